"""Separation scores: BSS Eval v3 (whole tracks), BSS Eval v4 (framewise, SiSEC 2018) and SI-SDR.

* :func:`bss_eval_v3` has the semantics of ``mir_eval.separation.bss_eval_sources`` with
  ``compute_permutation=False`` and 512-tap distortion filters, on the whole track at once: what both
  papers report. (fast_bss_eval 0.1.4 would do it, but fails under NumPy 2: one vectorised projection
  serves both versions here.)
* :func:`bss_eval_v4` has the semantics of ``museval.evaluate(mode="v4")``: the ``bss_eval_images``
  decomposition with distortion filters fitted once on the whole track, then SDR / ISR / SIR / SAR per
  window (1 s windows and hops by default); windows where a reference or an estimate is silent are NaN.
  :func:`track_score` then takes the median over windows, as SiSEC 2018 does.
* :func:`si_sdr`: scale-invariant SDR (Le Roux et al., 2019) on zero-mean signals.

Tests check every score against mir_eval and museval within 0.01 dB. A silent reference or estimate gives
NaN with a warning, never an exception.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.fft

FILTER_LENGTH = 512


class SilentSignalWarning(UserWarning):
    """A reference or an estimate is all zeros: its scores are NaN."""


def _as_sources(x: np.ndarray, name: str, channels: bool) -> np.ndarray:
    x = np.asarray(x, np.float64)
    want = 3 if channels else 2
    if x.ndim == want - 1:
        x = x[None]
    if x.ndim != want:
        shape = "(sources, samples, channels)" if channels else "(sources, samples)"
        raise ValueError(f"{name} must have shape {shape}, got {x.shape}")
    return x


def _match_lengths(refs: np.ndarray, ests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """As museval and mir_eval's callers do: estimates cut or zero-padded to the references' length."""
    if refs.shape[0] != ests.shape[0]:
        raise ValueError(f"{refs.shape[0]} references but {ests.shape[0]} estimates")
    n = refs.shape[1]
    if ests.shape[1] >= n:
        return refs, ests[:, :n]
    pad = [(0, 0)] * ests.ndim
    pad[1] = (0, n - ests.shape[1])
    return refs, np.pad(ests, pad)


def _silent(x: np.ndarray) -> np.ndarray:
    """(..., sources, samples, channels) -> (..., sources): all zero once summed over channels (museval's rule)."""
    return np.all(x.sum(axis=-1) == 0, axis=-1)


def _db(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10 * np.log10(num / den)


def _frames(x: np.ndarray, window: int, hop: int) -> np.ndarray:
    """(sources, samples, channels) -> (windows, sources, window, channels); only whole windows (museval)."""
    n = x.shape[1]
    if window >= n:
        return x[None]
    count = (n - window + hop) // hop
    view = np.lib.stride_tricks.sliding_window_view(x, window, axis=1)[:, : (count - 1) * hop + 1 : hop]
    return np.moveaxis(view, (1, 3), (0, 2))  # (src, win_idx, chan, t) -> (win_idx, src, t, chan)


def _filters(refs: np.ndarray, ests: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Least-squares distortion filters fitted on the whole track, in flat form.

    Returns D (the references' delayed correlations with every estimate channel, (K*L, K) with
    K = sources * channels), the filters projecting each estimate channel on every delayed reference
    (K*L, K), and per source j those on its own reference only ((C*L, C) each). Only the 2L - 1 lags the
    normal equations need are kept of each correlation, so memory stays a few track lengths.
    """
    nsrc, n, nchan = refs.shape
    k = nsrc * nchan
    xc, xd = _correlations(refs.transpose(0, 2, 1).reshape(k, n), ests.transpose(0, 2, 1).reshape(k, n), length)
    lags = np.arange(length)
    idx = lags[None, :] - lags[:, None] + length - 1  # (a, b) -> where lag b - a sits in ``xc``
    gram = xc[:, :, idx].transpose(0, 2, 1, 3).reshape(k * length, k * length)
    # D[(p, a), (e, c)]: the reference p delayed by a against estimate channel e
    d = xd.transpose(0, 2, 1).reshape(k * length, k)
    eps = np.finfo(float).eps
    c_all = np.linalg.solve(gram + eps * np.eye(len(gram)), d)
    c_own = []
    for j in range(nsrc):
        block, cols = slice(j * nchan * length, (j + 1) * nchan * length), slice(j * nchan, (j + 1) * nchan)
        g = gram[block, block]
        c_own.append(np.linalg.solve(g + eps * np.eye(len(g)), d[block, cols]))
    return d, c_all, c_own


def _correlations(refs: np.ndarray, ests: np.ndarray, length: int, block: int = 1 << 14, group: int = 64):
    """The lags the normal equations need, block by block: (k, samples) references and estimates ->
    xc[p, q, m + L - 1] = sum_t r_p[t + m] r_q[t] for |m| < L, and xd[p, e, a] = sum_t r_p[t - a] e_e[t] for
    0 <= a < L. Each block of ``block`` samples is correlated with its references' neighbourhood (L - 1 samples
    either side) in the frequency domain and the spectra are summed over blocks before one short inverse FFT
    per pair: whole-track FFTs would compute millions of lags to keep 2L - 1."""
    k, n = refs.shape
    pad = length - 1
    count = -(-n // block)
    size = scipy.fft.next_fast_len(block + 2 * pad, real=True)
    wide = np.zeros((k, count * block + 2 * pad))
    wide[:, pad : pad + n] = refs
    total = np.zeros((k, count * block))
    total[:, :n] = refs
    est = np.zeros((k, count * block))
    est[:, :n] = ests
    bins = size // 2 + 1
    s_rr = np.zeros((k, k, bins), complex)
    s_re = np.zeros((k, k, bins), complex)
    for first in range(0, count, group):
        blocks = range(first, min(count, first + group))
        segments = np.stack([wide[:, b * block : b * block + block + 2 * pad] for b in blocks], 1)  # (k, g, B+2L-2)
        x = scipy.fft.rfft(segments, size, axis=-1, workers=-1)
        y = scipy.fft.rfft(
            total[:, first * block : blocks[-1] * block + block].reshape(k, len(blocks), block),
            size,
            axis=-1,
            workers=-1,
        )
        z = scipy.fft.rfft(
            est[:, first * block : blocks[-1] * block + block].reshape(k, len(blocks), block), size, axis=-1, workers=-1
        )
        # per frequency a (k, blocks) x (blocks, k) product: batched matrix products, not einsum's loops
        s_rr += np.matmul(x.transpose(2, 0, 1), y.conj().transpose(2, 1, 0)).transpose(1, 2, 0)
        s_re += np.matmul(x.transpose(2, 0, 1), z.conj().transpose(2, 1, 0)).transpose(1, 2, 0)
    xc = scipy.fft.irfft(s_rr, size, axis=-1, workers=-1)[..., : 2 * length - 1]
    # c_qp is c_pq reversed: mirror the upper triangle, so the Gram matrix is exactly symmetric and identical
    # channels (a mono stem in stereo) give exactly identical rows, which the regularised solve copes with
    upper = np.triu_indices(k, 1)
    xc[upper[1], upper[0]] = xc[upper][..., ::-1]
    diagonal = np.arange(k)
    xc[diagonal, diagonal] = (xc[diagonal, diagonal] + xc[diagonal, diagonal][..., ::-1]) / 2
    xd = scipy.fft.irfft(s_re, size, axis=-1, workers=-1)[..., pad::-1][..., :length]
    return xc, xd


def _energies(
    refs: np.ndarray, ests: np.ndarray, window: int, hop: int, length: int, chunk: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per source and window, the energies of the BSS Eval decomposition, and which windows are silent.

    With s the reference, P_own / P_all the projections of the estimate on its own / on every delayed
    reference (filters from the whole track) and e the estimate: true = |s|^2, own = |P_own|^2,
    all = |P_all|^2, dist = |e - s|^2, spat = |P_own - s|^2, interf = |P_all - P_own|^2,
    artif = |e - P_all|^2. Windows are projected ``chunk`` at a time.
    """
    nsrc, _, nchan = refs.shape
    _, c_all, own_filters = _filters(refs, ests, length)
    # (est, src, chan_in, length, chan_out) and (est, chan_in, length, chan_out)
    c_all = c_all.reshape(nsrc, nchan, length, nsrc, nchan).transpose(3, 0, 1, 2, 4)
    c_own = np.stack([c.reshape(nchan, length, nchan) for c in own_filters])
    ref_frames, est_frames = _frames(refs, window, hop), _frames(ests, window, hop)
    nwin, span = len(ref_frames), ref_frames.shape[2]
    size = span + length - 1
    nfft = scipy.fft.next_fast_len(size, real=True)
    f_all = scipy.fft.rfft(c_all, nfft, axis=3, workers=-1)  # (est, src, chan_in, F, chan_out)
    f_own = scipy.fft.rfft(c_own, nfft, axis=2, workers=-1)  # (est, chan_in, F, chan_out)
    names = ("true", "own", "all", "dist", "spat", "interf", "artif")
    out = {k: np.empty((refs.shape[0], nwin)) for k in names}
    quiet = np.zeros(nwin, bool)
    # Energies straight from the spectra (Parseval): the projections are linear convolutions that fit in
    # nfft samples, so no inverse FFT is needed. Each rfft bin but DC (and Nyquist) stands for two.
    weight = np.full(nfft // 2 + 1, 2.0)
    weight[0] = 1.0
    if nfft % 2 == 0:
        weight[-1] = 1.0
    weight /= nfft

    def energy(x):  # (w, j, F, c) complex -> (j, w)
        return ((x.real**2 + x.imag**2).sum(axis=-1) @ weight).T

    for start in range(0, nwin, chunk):
        r, e = ref_frames[start : start + chunk], est_frames[start : start + chunk]
        s = scipy.fft.rfft(r, nfft, axis=2, workers=-1)  # (w, src, F, chan)
        est = scipy.fft.rfft(e, nfft, axis=2, workers=-1)
        p_all = np.einsum("wsfi,jsifo->wjfo", s, f_all, optimize=True)
        p_own = np.einsum("wjfi,jifo->wjfo", s, f_own, optimize=True)
        parts = {
            "true": s,
            "own": p_own,
            "all": p_all,
            "dist": est - s,
            "spat": p_own - s,
            "interf": p_all - p_own,
            "artif": est - p_all,
        }
        rows = slice(start, start + len(r))
        for name, x in parts.items():
            out[name][:, rows] = energy(x)
        quiet[rows] = (_silent(r) | _silent(e)).any(axis=1)  # museval scores such windows NaN
    return out, quiet


def _prepare(references, estimates, channels: bool) -> tuple[np.ndarray, np.ndarray]:
    refs, ests = _match_lengths(
        _as_sources(references, "references", channels), _as_sources(estimates, "estimates", channels)
    )
    if not channels:
        refs, ests = refs[..., None], ests[..., None]
    if refs.shape[2] != ests.shape[2]:
        raise ValueError(f"references have {refs.shape[2]} channels, estimates {ests.shape[2]}")
    return refs, ests


def bss_eval_v3(
    references: np.ndarray, estimates: np.ndarray, filter_length: int = FILTER_LENGTH
) -> dict[str, np.ndarray]:
    """SDR, SIR and SAR (dB) per source, on the whole track; inputs are (sources, samples), mono."""
    refs, ests = _prepare(references, estimates, channels=False)
    if _silent(refs).any() or _silent(ests).any():
        warnings.warn(
            "a reference or an estimate is silent: BSS Eval v3 scores are NaN", SilentSignalWarning, stacklevel=2
        )
        return {k: np.full(refs.shape[0], np.nan) for k in ("sdr", "sir", "sar")}
    d, c_all, c_own = _filters(refs, ests, filter_length)
    # Least-squares projections are orthogonal, so their energies come from the normal equations:
    # |P e|^2 = c . d, and the residuals' by Pythagoras; no projection is formed in time.
    length = filter_length
    own = np.array([c[:, 0] @ d[j * length : (j + 1) * length, j] for j, c in enumerate(c_own)])
    full = np.einsum("kj,kj->j", c_all, d)
    energy = np.einsum("jt,jt->j", ests[..., 0], ests[..., 0])
    # bss_eval_sources: the target is the reference through its distortion filter (s + e_spat = P_own).
    return {"sdr": _db(own, energy - own), "sir": _db(own, full - own), "sar": _db(full, energy - full)}


def bss_eval_v4(
    references: np.ndarray,
    estimates: np.ndarray,
    rate: int = 44100,
    window: float = 1.0,
    hop: float = 1.0,
    filter_length: int = FILTER_LENGTH,
    chunk: int = 8,
) -> dict[str, np.ndarray]:
    """Framewise SDR, ISR, SIR, SAR (dB), each (sources, windows); inputs (sources, samples, channels).

    ``window`` and ``hop`` are in seconds at ``rate`` (SiSEC 2018: 1 s and 1 s); only whole windows are
    scored, as museval does. ``chunk`` windows are projected at a time, which bounds memory.
    """
    refs, ests = _prepare(references, estimates, channels=True)
    win, step = int(window * rate), int(hop * rate)
    nwin = 1 if win >= refs.shape[1] else (refs.shape[1] - win + step) // step
    if _silent(refs).any() or _silent(ests).any():
        warnings.warn(
            "a reference or an estimate is silent: BSS Eval v4 scores are NaN", SilentSignalWarning, stacklevel=2
        )
        return {k: np.full((refs.shape[0], nwin), np.nan) for k in ("sdr", "isr", "sir", "sar")}
    en, quiet = _energies(refs, ests, win, step, filter_length, chunk)
    out = {
        "sdr": _db(en["true"], en["dist"]),
        "isr": _db(en["true"], en["spat"]),
        "sir": _db(en["own"], en["interf"]),
        "sar": _db(en["all"], en["artif"]),
    }
    for value in out.values():
        value[:, quiet] = np.nan
    return out


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR (dB) of one mono estimate; NaN with a warning if either is silent."""
    ref = np.asarray(reference, np.float64).ravel()
    est = np.asarray(estimate, np.float64).ravel()
    n = min(len(ref), len(est))
    ref, est = ref[:n] - ref[:n].mean(), est[:n] - est[:n].mean()
    if not np.any(ref) or not np.any(est):
        warnings.warn("a reference or an estimate is silent: SI-SDR is NaN", SilentSignalWarning, stacklevel=2)
        return float("nan")
    target = (est @ ref) / (ref @ ref) * ref
    return float(_db(np.sum(target**2), np.sum((est - target) ** 2)))


def track_score(framewise: np.ndarray) -> np.ndarray:
    """SiSEC 2018 aggregation of framewise scores (sources, windows): the median over non-NaN windows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
        return np.nanmedian(np.asarray(framewise, np.float64), axis=-1)
