"""The network as separation runs it: batch norm folded into the convolution before it, few-channel transposed
convolutions as sub-pixel convolutions: the same outputs, less work."""

import numpy as np


def _with_statistics(model, seed=0):
    """Non-trivial batch norm statistics and affine weights, as training leaves them."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            shape = layer.moving_mean.shape
            layer.moving_mean.assign(0.2 * rng.standard_normal(shape).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.3, 3.0, shape).astype("float32"))
            layer.gamma.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
            layer.beta.assign(0.2 * rng.standard_normal(shape).astype("float32"))
    return model


def test_folded_cunet_and_unet_give_the_original_outputs_without_their_conv_batch_norms():
    import keras

    from cunet.models import ModelConfig, build_model
    from cunet.separation.fold import inference_model

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(3, 128, 64, 1)).astype("float32")
    for cfg in (
        ModelConfig(model="cunet", film="complex", control="cnn", z_dim=6, n_bins=128, n_frames=64, first_filters=4),
        ModelConfig(model="unet", n_bins=128, n_frames=64, first_filters=4),
    ):
        model = _with_statistics(build_model(cfg))
        inputs = [x, np.eye(6, dtype="float32")[[0, 3, 5]][:, :, None]] if cfg.model == "cunet" else x
        folded = inference_model(model)
        kinds = [type(layer).__name__ for layer in folded.layers]
        before = [type(layer).__name__ for layer in model.layers].count("BatchNormalization")
        # every encoder and decoder convolution's batch norm is gone (a C-U-Net's control network keeps its own)
        assert kinds.count("BatchNormalization") == before - 2 * cfg.n_layers, kinds
        # the decoder's transposed convolutions of under 16 channels (the last: the mask) are sub-pixel ones
        few = [layer.filters < 16 for layer in model.layers if type(layer).__name__ == "Conv2DTranspose"]
        assert few[-1] and 0 < sum(few) < len(few)
        assert kinds.count("SubPixelDeconv") == sum(few) and kinds.count("Conv2DTranspose") == len(few) - sum(few)
        want, got = np.asarray(model.predict_on_batch(inputs)), np.asarray(folded.predict_on_batch(inputs))
        assert np.abs(want).max() > 1e-3
        np.testing.assert_allclose(got, want, atol=2e-6, rtol=0)


def test_a_model_without_foldable_batch_norm_is_returned_as_it_is():
    import keras

    from cunet.separation.fold import inference_model

    x = keras.Input((8, 8, 1))
    y = keras.layers.BatchNormalization()(keras.layers.Activation("relu")(x))
    model = keras.Model(x, y)
    assert inference_model(model) is model


def test_sub_pixel_convolution_equals_the_transposed_one_for_every_phase_and_channel():
    import keras

    from cunet.separation.subpixel import SubPixelDeconv, rewritable, sub_pixel_weights

    rng = np.random.default_rng(2)
    for filters, size in ((1, (6, 5)), (3, (4, 4))):  # odd sizes: the padding at either edge is checked too
        x = rng.standard_normal((2, *size, 7)).astype("float32")
        deconv = keras.layers.Conv2DTranspose(filters, 5, strides=2, padding="same")
        deconv.build(x.shape)
        deconv.bias.assign(rng.standard_normal(filters).astype("float32"))
        want = keras.ops.convert_to_numpy(deconv(x))
        assert rewritable(deconv)
        sub = SubPixelDeconv(filters)
        sub.build(x.shape)
        sub.set_weights(sub_pixel_weights(*(keras.ops.convert_to_numpy(w) for w in (deconv.kernel, deconv.bias))))
        got = keras.ops.convert_to_numpy(sub(x))
        assert got.shape == want.shape == (2, 2 * size[0], 2 * size[1], filters)
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    # what the rewrite leaves alone: many channels, another stride or kernel
    assert not rewritable(keras.layers.Conv2DTranspose(16, 5, strides=2, padding="same"))
    assert not rewritable(keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same"))
    assert not rewritable(keras.layers.Conv2DTranspose(1, 5, strides=1, padding="same"))
