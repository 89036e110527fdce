"""The diffusion demo: a diffusion memory of real sentences, memorising and generalising.

Two small uniform-noise diffusion models (:class:`models.diffusion.memory.DiffusionMemory`)
on character-level English sentences of ``L = 24`` characters (:func:`experiments.patterns.text_patterns`):

* **few** sentences (``K = 4``), trained when the demo runs (a few hundred steps, seconds):
  it *memorises*.  A corrupted training sentence is restored token by token by the ancestral
  sampler, the conditional
  entropy of the final state is ~0 nats and generations are copies of training sentences
  (paper.md 3 and 6.2, signature 1);
* **many** sentences (``K = 2000``): it *generalises*.  It restores characters of a sentence
  it never saw better than the exact memory of the same training set (the oracle), keeps a
  finite conditional entropy and writes new sentence beginnings.  Unseen sentences are restored
  by the iterated MAP update at their noise level (:func:`models.diffusion.samplers.fixed_point`)
  for this model and the oracle alike.  Character-level English
  needs far more optimiser steps than a one-minute demo has on 2 CPU cores, so this model
  ships pretrained (:data:`PRETRAINED`, 0.7 MB of safetensors weights) and is reproduced
  exactly by ``python -m experiments.demo_text --pretrain`` (see :func:`pretrain`).

Checkpoints of the live model go to ``OUT/checkpoints/`` so a rerun loads instead of training.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["PRETRAINED", "TEXT_L", "MANY", "FEW", "pretrain", "load_pretrained", "diffusion"]

#: Characters per sentence: short sequences keep training and sampling cheap.
TEXT_L = 24
#: Held-out sentences of the text pattern set (its last rows; never trained on).
N_TEST = 128
#: The generalising model: training set size and DiffusionMemory hyperparameters.
MANY: dict[str, Any] = {
    "K": 2000,
    "memory": {
        "d_model": 64,
        "n_layers": 2,
        "n_heads": 4,
        "train_steps": 20_000,
        "batch_size": 64,
        "lr": 2e-3,
        "seed": 0,
    },
}
#: The memorising model, trained live: a higher learning rate memorises 4 sentences in ~300 steps.
FEW: dict[str, Any] = {
    "K": 4,
    "memory": {
        "d_model": 64,
        "n_layers": 2,
        "n_heads": 4,
        "train_steps": 300,
        "batch_size": 32,
        "lr": 3e-3,
        "seed": 0,
    },
}
#: Steps of the stand-in generalising model when the pretrained one cannot be used (keeps the demo
#: within its minute; it is undertrained, and the demo says so).
FALLBACK_STEPS = 300
#: Weights-only checkpoint (``model.safetensors`` + ``config.json``) of the generalising model.
PRETRAINED = Path(__file__).resolve().parent / "data" / "text_diffusion_L24"
_EXPORTED = ("model.safetensors", "config.json")


def text_set(K: int, source: str = "auto"):
    """The demo's text pattern set: ``K`` training sentences, the fixed held-out set, ``L = TEXT_L``."""
    from experiments.patterns import text_patterns

    return text_patterns(K=K, L=TEXT_L, source=source, n_test=N_TEST, seed=0)


def pretrain(out: Path | str = PRETRAINED, *, checkpoint: Path | str | None = None, progress: bool = True) -> Path:
    """Train the generalising model from scratch and export its weights-only checkpoint.

    Deterministic: one CPU thread, every draw from the seeded generator of
    :mod:`models.diffusion.train`, so the same torch version on the same kind of CPU
    gives the same weights.  Training takes roughly 20-40 minutes on one CPU core.

    Parameters
    ----------
    out : path
        Directory that receives ``model.safetensors`` and ``config.json``.
    checkpoint : path, optional
        Full training checkpoint directory (kept, so an interrupted run resumes);
        a temporary directory when omitted.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Path
        ``out``.
    """
    import models
    from models.diffusion.train import pattern_hash
    from models.threads import torch_threads

    patterns = text_set(MANY["K"], source="lee")
    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(checkpoint) if checkpoint is not None else Path(tmp)
        with torch_threads(1):
            memory = models.make("diffusion", **MANY["memory"], checkpoint=ckpt, progress=progress)
            memory.fit(patterns.train, vocab_size=patterns.vocab_size)
        out.mkdir(parents=True, exist_ok=True)
        for name in _EXPORTED:
            shutil.copyfile(ckpt / name, out / name)
    losses = memory.train_result_.losses
    print(
        f"exported {out} (patterns {pattern_hash(patterns.train, patterns.vocab_size)[:12]}, "
        f"final NELBO/token {float(losses[-500:].mean()):.3f})"
    )
    return out


def load_pretrained(patterns, directory: Path | str = PRETRAINED):
    """The pretrained network, if it exists and was trained on exactly ``patterns``.

    Returns
    -------
    (Denoiser, dict) or None
        The network (eval mode, CPU) and its ``config.json``; ``None`` when the files are
        missing or belong to another pattern set (e.g. without gensim the text source is
        Python's own documentation, not the Lee corpus the weights were trained on).
    """
    from models.diffusion.train import load_checkpoint, pattern_hash, read_checkpoint_config

    directory = Path(directory)
    if not all((directory / name).is_file() for name in _EXPORTED):
        return None
    info = read_checkpoint_config(directory)
    if info is None or info["patterns_sha256"] != pattern_hash(patterns.train, patterns.vocab_size):
        return None
    return load_checkpoint(directory)


# ----------------------------------------------------------------------------------
# The demo.
# ----------------------------------------------------------------------------------


def _entropy_path(denoise, trajectory) -> Any:
    """Mean per-token conditional entropy (nats) of every state of a trajectory ``(T, B, L) -> (T, B)``.

    The probe of paper.md 3 (``Retrieval.entropy``) applied to the intermediate states too:
    ``H = -sum_v p log p`` of the leave-one-out prediction at ``t = 1e-5``.
    """
    import torch

    from energy.diffusion import conditional_entropy
    from models.diffusion.memory import ENTROPY_TIME

    T, B, L = trajectory.shape
    flat = trajectory.reshape(T * B, L)
    t = torch.full((T * B,), ENTROPY_TIME, dtype=torch.float64)
    return conditional_entropy(denoise(flat, t)).reshape(T, B)


def _changed_steps(trajectory, k: int = 0) -> list[int]:
    """Steps at which row ``k`` of a trajectory changed (and step 0)."""
    steps = [0]
    for j in range(1, trajectory.shape[0]):
        if bool((trajectory[j, k] != trajectory[j - 1, k]).any()):
            steps.append(j)
    return steps


def _draw_text(ax, rows, *, fontsize: float = 10.5, label_width: float = 0.24) -> None:
    """Rows of ``(label, text, reference or None, colour of the label)`` in monospace; wrong characters red.

    Characters that differ from the row's reference (the clean sentence) are drawn in
    bold red, so a viewer sees at a glance what the corruption did and what was repaired.
    """
    ax.set_axis_off()
    n = len(rows)
    for i, (label, text, ref, colour) in enumerate(rows):
        y = 1.0 - (i + 0.5) / n
        ax.text(0.0, y, label, fontsize=fontsize - 1.5, va="center", ha="left", color=colour or "0.3")
        width = (1.0 - label_width) / max(len(text), 1)
        for j, ch in enumerate(text):
            wrong = ref is not None and (j >= len(ref) or ref[j] != ch)
            ax.text(
                label_width + j * width,
                y,
                "\u00b7" if ch == " " else ch,
                family="monospace",
                fontsize=fontsize,
                va="center",
                ha="left",
                color="#d62728" if wrong else "black",
                fontweight="bold" if wrong else "normal",
            )


def diffusion(
    out_dir: Path | str,
    seed: int = 0,
    *,
    few_steps: int | None = None,
    many_steps: int | None = None,
    t_train: float = 0.5,
    t_unseen: float = 0.1,
    dt: float = 0.02,
    n_generate: int = 8,
    pretrained: Path | str = PRETRAINED,
    source: str = "auto",
):
    """Diffusion memory of sentences: a few are memorised, many are generalised from.

    Parameters
    ----------
    out_dir : path
        Output directory (``diffusion.png``, ``diffusion.gif``, ``checkpoints/``).
    seed : int
        Seed of the corruption, the samplers and the live model's training.
    few_steps : int, optional
        Training steps of the memorising model (default ``FEW["memory"]["train_steps"]``).
    many_steps : int, optional
        ``None``: use the pretrained generalising model (trained live with ``FALLBACK_STEPS``, and
        said so, when its weights are missing or were trained on another text source);
        an int: train it live with that many steps (fast tests).
    t_train, t_unseen : float
        Diffusion times at which the training sentence and the unseen sentences are corrupted.
    dt : float
        Step of the ancestral sampler.
    n_generate : int
        Generations per model.
    pretrained : path
        Weights-only checkpoint of the generalising model.
    source : {"auto", "lee", "pydoc"}
        Text source (:func:`experiments.patterns.text_patterns`); the pretrained weights
        belong to ``"lee"``, which ``"auto"`` picks when gensim is installed.

    Returns
    -------
    experiments.demos.Demo
    """
    import numpy as np
    import torch

    import models
    from experiments import demo_figures as dfig
    from experiments.corruption import resample
    from experiments.demos import Demo, _generator
    from experiments.metrics import classify_generations, exact_match, recovery_rate, unstable_rate
    from experiments.patterns import decode_text
    from models.diffusion import samplers

    start = time.perf_counter()
    out_dir = Path(out_dir)
    ckpt_root = out_dir / "checkpoints"

    # -- the memorising model: K = 4, trained here (cached) ---------------------------
    few_set = text_set(FEW["K"], source)
    V, params = few_set.vocab_size, few_set.params
    few_cfg = {**FEW["memory"], "seed": seed}
    if few_steps is not None:
        few_cfg["train_steps"] = few_steps
    tic = time.perf_counter()
    few = models.make("diffusion", **few_cfg, sampler="ancestral", dt=dt, checkpoint=ckpt_root / f"few_s{seed}")
    few.fit(few_set.train, vocab_size=V)
    few_seconds = time.perf_counter() - tic
    few_loaded = few.train_result_.loaded

    clean = few_set.train  # (4, L)
    noisy = resample(clean, t_train, V, generator=_generator(seed, 1))
    r_few = few.retrieve(noisy, noise=t_train, generator=_generator(seed, 2), record=True)
    H_few_path = _entropy_path(few.denoise, r_few.trajectory)  # (T, 4)
    few_exact = int(exact_match(r_few.states, clean).sum())
    H_few_train = float(few.retrieve(clean, noise=1e-3, max_steps=1).entropy.mean())
    gen_few = few.generate(n_generate, generator=_generator(seed, 3))
    few_copies = int((np.asarray(classify_generations(gen_few.states, clean)) == "memorised").sum())

    # -- the generalising model: K = 2000, pretrained (or trained here) ----------------
    # Without gensim the text is Python's documentation, which has fewer sentences.
    k_many = min(MANY["K"], text_set(1, source).params["pool_size"] - N_TEST)
    many_set = text_set(k_many, source)
    loaded = None if many_steps is not None else load_pretrained(many_set, pretrained)
    if loaded is not None:
        net, info = loaded
        many_how = f"pretrained, {info['step']} steps"
        many_seconds = 0.0
    else:
        steps = many_steps if many_steps is not None else FALLBACK_STEPS
        cfg = {**MANY["memory"], "train_steps": steps, "seed": seed}
        tic = time.perf_counter()
        live = models.make("diffusion", **cfg, checkpoint=ckpt_root / f"many_s{seed}_{steps}")
        live.fit(many_set.train, vocab_size=V)
        net, many_seconds = live.model_, time.perf_counter() - tic
        many_how = f"trained here, {steps} steps" + (
            "" if many_steps is not None else " -- pretrained weights not usable"
        )
    den = samplers.NetworkDenoiser(net)
    # Unseen sentences are restored by the iterated MAP update at the query's noise level (the diffusion
    # analogue of a synchronous Hopfield update), the same sampler for every denoiser: the ancestral
    # sampler redraws tokens wherever the model is unsure, which for an imperfect language model
    # breaks about as many intact characters as it repairs.
    oracle = models.make("oracle", sampler="fixed_point", seed=seed).fit(many_set.train, vocab_size=V)

    test = many_set.test  # (128, L), never trained on
    q_test = resample(test, t_unseen, V, generator=_generator(seed, 4))
    r_many = samplers.fixed_point(den, q_test, t_unseen, record=True)
    r_orc = oracle.retrieve(q_test, noise=t_unseen)
    r_few_test = samplers.fixed_point(few.denoise, q_test, t_unseen)
    rec_many = float(recovery_rate(r_many.states, test, q_test).nanmean())
    rec_orc = float(recovery_rate(r_orc.states, test, q_test).nanmean())
    rec_few = float(recovery_rate(r_few_test.states, test, q_test).nanmean())
    brk_many = float(unstable_rate(r_many.states, test, q_test).nanmean())
    brk_orc = float(unstable_rate(r_orc.states, test, q_test).nanmean())
    brk_few = float(unstable_rate(r_few_test.states, test, q_test).nanmean())
    acc = {
        "query": float((q_test == test).double().mean()),
        "many": float((r_many.states == test).double().mean()),
        "oracle": float((r_orc.states == test).double().mean()),
    }
    H_many_path = _entropy_path(den, r_many.trajectory)  # (T, 128)
    H_many_test = float(H_many_path[-1].mean())
    H_many_train = float(_entropy_path(den, many_set.train[None, :128])[0].mean())
    gen_many = samplers.generate(den, n_generate, TEXT_L, V, dt=dt, generator=_generator(seed, 6))
    many_copies = int((np.asarray(classify_generations(gen_many.states, many_set.train)) == "memorised").sum())
    H_many_gen = float(_entropy_path(den, gen_many.states[None])[0].mean())

    def dec(tokens) -> str:
        return decode_text(torch.as_tensor(tokens, dtype=torch.long), params, strip=False)

    numbers = {
        "few_exact": few_exact,
        "few_K": FEW["K"],
        "many_K": k_many,
        "few_entropy_final": float(r_few.entropy.mean()),
        "few_entropy_train": H_few_train,
        "few_copies": few_copies,
        "few_seconds": few_seconds,
        "few_loaded": few_loaded,
        "many_how": many_how,
        "many_seconds": many_seconds,
        "recovery_many": rec_many,
        "recovery_oracle": rec_orc,
        "recovery_few_on_unseen": rec_few,
        "broken_many": brk_many,
        "broken_oracle": brk_orc,
        "broken_few_on_unseen": brk_few,
        "accuracy_unseen": acc,
        "many_entropy_test": H_many_test,
        "many_entropy_train": H_many_train,
        "many_entropy_generated": H_many_gen,
        "many_copies": many_copies,
        "n_generate": n_generate,
        "source": params["source"],
    }

    # -- what to print: every step of one restoration, then the notes ------------------
    steps_lines = [f"restoring training sentence 0 (t = {t_train}), {FEW['K']}-sentence model:"]
    grid = samplers.time_grid(t_train, dt).tolist() + [0.0]
    for j in _changed_steps(r_few.trajectory):
        text = dec(r_few.trajectory[j, 0])
        steps_lines.append(f"  step {j:2d}  t = {grid[j]:.2f}  H = {float(H_few_path[j, 0]):.2f}  |{text}|")
    steps_lines.append(f"restoring unseen sentence 0 (t = {t_unseen}, iterated MAP), {k_many}-sentence model:")
    for j in _changed_steps(r_many.trajectory):
        text = dec(r_many.trajectory[j, 0])
        steps_lines.append(f"  step {j:2d}  H = {float(H_many_path[j, 0]):.2f}  |{text}|")
    for line in steps_lines:
        print(line)
    train_note = "loaded from cache" if few_loaded else f"trained in {few_seconds:.0f} s"
    notes = [
        f"{FEW['K']} sentences ({few_cfg['train_steps']} steps, {train_note}): {few_exact}/{FEW['K']} training "
        f"sentences restored exactly from t = {t_train} (about {t_train * (1 - 1 / V):.0%} of characters resampled); "
        f"conditional entropy {float(r_few.entropy.mean()):.2f} nats; {few_copies}/{n_generate} generations are "
        "copies of training sentences: it memorised.",
        f"{k_many} sentences ({many_how}), {len(test)} unseen sentences at t = {t_unseen} (MAP): it repairs "
        f"{rec_many:.0%} of the corrupted characters and breaks {brk_many:.1%} of the intact ones (characters "
        f"correct {acc['query']:.0%} -> {acc['many']:.0%}); the exact memory of the same sentences (oracle) repairs "
        f"{rec_orc:.0%} but rewrites {brk_orc:.0%} of the intact ones ({acc['oracle']:.0%} correct): it answers with "
        "training sentences.",
        f"Conditional entropy: {H_few_train:.2f} nats on the 4 memorised sentences vs {H_many_train:.2f} (training), "
        f"{H_many_test:.2f} (unseen) and {H_many_gen:.2f} (generated) for the {k_many}-sentence model; "
        f"{many_copies}/{n_generate} of its generations copy a training sentence.",
    ]

    # -- gallery ----------------------------------------------------------------------
    import matplotlib.pyplot as plt

    dfig.setup()
    fig = plt.figure(figsize=(15, 11))
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=[1.0, 1.0, 0.85], hspace=0.02)
    tl, tr = top.subfigures(1, 2, width_ratios=[1.25, 1.0])
    green, grey = "#2ca02c", "0.35"

    rows = []
    for i in range(FEW["K"]):
        ok = bool((r_few.states[i] == clean[i]).all())
        rows.append((f"query {i}", dec(noisy[i]), dec(clean[i]), grey))
        rows.append((f"restored {i}" + (" (exact)" if ok else ""), dec(r_few.states[i]), dec(clean[i]), green))
    _draw_text(tl.subplots(), rows, label_width=0.22)
    tl.suptitle(f"A. {FEW['K']} training sentences, corrupted at t = {t_train}, restored", x=0.02, ha="left")

    keep = _changed_steps(r_few.trajectory)
    if len(keep) > 12:  # at most 12 lines: first, last and evenly spaced steps in between
        keep = [keep[int(round(x))] for x in np.linspace(0, len(keep) - 1, 12)]
    rows = [
        (f"t = {grid[j]:.2f}  H = {float(H_few_path[j, 0]):.2f}", dec(r_few.trajectory[j, 0]), dec(clean[0]), None)
        for j in keep
    ]
    _draw_text(tr.subplots(), rows, label_width=0.3)
    tr.suptitle("B. Sentence 0 step by step (H: conditional entropy, nats)", x=0.02, ha="left")

    n_show = 4
    rows = []
    for i in range(n_show):
        ref = dec(test[i])
        rows.append((f"unseen {i}", ref, None, grey))
        rows.append(("  corrupted", dec(q_test[i]), ref, grey))
        rows.append((f"  {k_many}-sentence model", dec(r_many.states[i]), ref, green))
        rows.append(("  oracle (exact memory)", dec(r_orc.states[i]), ref, "#1f77b4"))
    ml, mr = middle.subfigures(1, 2, width_ratios=[1.25, 1.0])
    _draw_text(ml.subplots(), rows, fontsize=9.5, label_width=0.3)
    ml.suptitle(f"C. Unseen sentences (t = {t_unseen}): {k_many}-sentence model vs exact memory", x=0.02, ha="left")
    rows = [(f"{FEW['K']} sent.", dec(g), None, grey) for g in gen_few.states[: n_generate // 2]]
    rows += [(f"{k_many} sent.", dec(g), None, green) for g in gen_many.states[: n_generate // 2]]
    _draw_text(mr.subplots(), rows, label_width=0.22)
    mr.suptitle("D. Generated from pure noise", x=0.02, ha="left")

    bl, br = bottom.subfigures(1, 2, width_ratios=[1.0, 1.0])
    a = bl.subplots()
    labels = [f"{FEW['K']}: train", f"{k_many}: train", f"{k_many}: unseen", f"{k_many}: generated"]
    values = [H_few_train, H_many_train, H_many_test, H_many_gen]
    a.bar(labels, values, color=["0.55", green, green, green])
    for x, v in enumerate(values):
        a.text(x, v + 0.03, f"{v:.2f}", ha="center", fontsize=9)
    a.set_ylabel("conditional entropy (nats / token)")
    a.axhline(0.15, color="0.5", ls=":", lw=1, label="memorised: <= 0.15 nats")
    a.legend(fontsize=8, loc="upper left")
    bl.suptitle("E. Memorisation probe: conditional entropy at t = 1e-5", x=0.02, ha="left")
    a = br.subplots()
    for k in range(H_few_path.shape[1]):
        a.plot(
            H_few_path[:, k].numpy(),
            color="0.55",
            lw=1.2,
            label=f"{FEW['K']} sentences, training (ancestral steps)" if k == 0 else None,
        )
    for k in range(min(8, H_many_path.shape[1])):
        a.plot(
            H_many_path[:, k].numpy(),
            color=green,
            lw=1.2,
            alpha=0.8,
            label=f"{k_many} sentences, unseen (MAP iterations)" if k == 0 else None,
        )
    a.set_xlabel("sampler step")
    a.set_ylabel("H of the current state (nats)")
    a.legend(fontsize=8)
    br.suptitle("F. Entropy along the restoration", x=0.02, ha="left")
    fig.suptitle(f"A diffusion memory of sentences (character level, L = {TEXT_L}, V = {V})", y=1.01)
    png = dfig.save_png(fig, out_dir / "diffusion.png")

    top_h = 1.1 * float(max(H_few_path.max(), H_many_path[:, :4].max()))
    tracks = [
        dfig.Track(
            f"{FEW['K']} sentences (memorised): training sentences from t = {t_train}, ancestral sampler",
            r_few.trajectory.numpy(),
            H_few_path.numpy(),
            curve_label="entropy (nats)",
            decode=dec,
            reference=clean.numpy(),
            ylim=(0.0, top_h),
        ),
        dfig.Track(
            f"{k_many} sentences ({many_how}): unseen sentences from t = {t_unseen}, MAP updates",
            r_many.trajectory[:, :4].numpy(),
            H_many_path[:, :4].numpy(),
            curve_label="entropy (nats)",
            decode=dec,
            reference=test[:4].numpy(),
            ylim=(0.0, top_h),
        ),
    ]
    gif = dfig.animate(
        out_dir / "diffusion.gif", tracks, title="Restoring sentences token by token", fps=4, width=11.0, row_height=1.6
    )
    return Demo([png, gif], notes, numbers, time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.demo_text", description=__doc__.split("\n")[0])
    parser.add_argument("--pretrain", action="store_true", help="train and export the generalising model")
    parser.add_argument("--out", type=Path, default=PRETRAINED, help="export directory")
    parser.add_argument("--checkpoint", type=Path, default=None, help="resumable training checkpoint directory")
    args = parser.parse_args(argv)
    if not args.pretrain:
        parser.print_help()
        return 0
    start = time.perf_counter()
    pretrain(args.out, checkpoint=args.checkpoint)
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
