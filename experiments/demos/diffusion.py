"""``python -m experiments demo diffusion``: a diffusion memory of real sentences, memorising and generalising.

Two small uniform-noise diffusion memories (:class:`~models.diffusion.memory.DiffusionMemory`)
on character-level English sentences of ``L = 24`` characters
(:func:`experiments.patterns.text_patterns`), after Pham et al. (2026):

* **few** sentences (``K = 4``), trained when the demo runs (a few hundred steps, seconds):
  it *memorises*.  A corrupted training sentence is restored token by token by the ancestral
  sampler, the conditional entropy of the final state is ~0 nats and generations are copies
  of training sentences;
* **many** sentences (``K = 2000``): it *generalises*.  It restores characters of a sentence
  it never saw better than the exact memory of the same training set (the oracle), keeps a
  finite conditional entropy and writes new sentence beginnings.  Unseen sentences are restored
  by the iterated MAP update at their noise level (the ``fixed_point`` sampler) for this model
  and the oracle alike.  It ships pretrained (:mod:`experiments.demos.pretrained`).

Checkpoints of the live model go to ``OUT/checkpoints/`` so a rerun loads instead of training.

Steps: :func:`_memorise` (the few-sentence model), :func:`_generalise` (the many-sentence
model), :func:`_unseen` (both memories and the oracle on held-out sentences), then the
printed restoration, :func:`_notes`, :func:`_gallery` and :func:`_animation`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import models
from energy.diffusion import conditional_entropy
from experiments.corruption import resample
from experiments.demos import animation, drawing
from experiments.demos.common import Demo, generator
from experiments.demos.pretrained import FALLBACK_STEPS, MANY, N_TEST, PRETRAINED, TEXT_L, load_pretrained, text_set
from experiments.metrics import classify_generations, exact_match, recovery_rate, unstable_rate
from experiments.patterns import decode_text
from experiments.style import model_style
from models.diffusion.memory import ENTROPY_TIME, DiffusionMemory
from models.diffusion.samplers import time_grid  # the ancestral sampler's time grid, to label its steps

__all__ = ["FEW", "diffusion"]

#: The memorising model, trained live (lr 3e-3): 600 steps memorise the 4 sentences at each of 21 seeds tried.
FEW: dict[str, Any] = {
    "K": 4,
    "memory": {
        "d_model": 64,
        "n_layers": 2,
        "n_heads": 4,
        "train_steps": 600,
        "batch_size": 32,
        "lr": 3e-3,
        "seed": 0,
    },
}
GREEN, GREY = model_style("diffusion").colour, "0.35"  # label colours: the learned model's style, grey


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
) -> Demo:
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
        Diffusion times at which the training sentences and the unseen sentences are corrupted.
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
    Demo
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    few = _memorise(out_dir / "checkpoints", seed, few_steps, t_train, dt, n_generate, source)
    many = _generalise(out_dir / "checkpoints", seed, many_steps, dt, pretrained, source)
    unseen = _unseen(few, many, seed, t_unseen, n_generate)
    numbers = _numbers(few, many, unseen, n_generate)
    for line in _restoration_lines(few, many, unseen, t_train, t_unseen, dt):
        print(line)
    notes = _notes(few, many, unseen, t_train, t_unseen, n_generate)
    png = _gallery(out_dir / "diffusion.png", few, many, unseen, t_train, t_unseen, dt, n_generate)
    gif = _animation(out_dir / "diffusion.gif", few, many, unseen, t_train, t_unseen)
    return Demo([png, gif], notes, numbers, time.perf_counter() - start)


def _entropy_path(denoise, trajectory: torch.Tensor) -> torch.Tensor:
    """Mean per-token conditional entropy (nats) of every state of a trajectory ``(T, B, L) -> (T, B)``.

    The memorisation probe of Pham et al. (2026) (``Retrieval.entropy``) applied to the
    intermediate states too: ``H = -sum_v p log p`` of the leave-one-out prediction at ``t = 1e-5``.
    """
    T, B, L = trajectory.shape
    flat = trajectory.reshape(T * B, L)
    t = torch.full((T * B,), ENTROPY_TIME, dtype=torch.float64)
    return conditional_entropy(denoise(flat, t)).reshape(T, B)


def _changed_steps(trajectory, k: int = 0) -> list[int]:
    """Steps at which row ``k`` of a trajectory changed (and step 0)."""
    moved = (trajectory[1:, k] != trajectory[:-1, k]).any(dim=1)  # (T - 1,)
    return [0] + [j + 1 for j in torch.nonzero(moved).flatten().tolist()]


def _memorise(ckpt_root: Path, seed, few_steps, t_train, dt, n_generate, source) -> dict[str, Any]:
    """The K = 4 model (trained here, cached): restore its corrupted training sentences, generate."""
    patterns = text_set(FEW["K"], source)
    V, clean = patterns.vocab_size, patterns.train  # (4, L)
    cfg = {**FEW["memory"], "seed": seed}
    if few_steps is not None:
        cfg["train_steps"] = few_steps
    tic = time.perf_counter()
    checkpoint = ckpt_root / f"few_s{seed}"
    memory = models.make("diffusion", **cfg, sampler="ancestral", dt=dt, checkpoint=checkpoint)
    memory.fit(clean, vocab_size=V)
    seconds = time.perf_counter() - tic
    noisy = resample(clean, t_train, V, generator=generator(seed, 1))
    r = memory.retrieve(noisy, noise=t_train, generator=generator(seed, 2), record=True)
    generated = memory.generate(n_generate, generator=generator(seed, 3))
    return {
        "set": patterns,
        "memory": memory,
        # the same network with the MAP sampler, for the unseen sentences
        "map": DiffusionMemory.from_checkpoint(checkpoint, clean, vocab_size=V, sampler="fixed_point"),
        "steps": cfg["train_steps"],
        "seconds": seconds,
        "loaded": memory.train_result_.loaded,
        "noisy": noisy,
        "r": r,
        "H_path": _entropy_path(memory.denoise, r.trajectory),  # (T, 4)
        "exact": int(exact_match(r.states, clean).sum()),
        "H_train": float(memory.retrieve(clean, noise=1e-3, max_steps=1).entropy.mean()),
        "generated": generated,
        "copies": int((np.asarray(classify_generations(generated.states, clean)) == "memorised").sum()),
    }


def _generalise(ckpt_root: Path, seed, many_steps, dt, pretrained, source) -> dict[str, Any]:
    """The K = 2000 model: the shipped network when usable, else trained here (and said so)."""
    # Without gensim the text is Python's documentation, which has fewer sentences.
    k_many = min(MANY["K"], text_set(1, source).params["pool_size"] - N_TEST)
    patterns = text_set(k_many, source)
    memory = None if many_steps is not None else load_pretrained(patterns, pretrained, dt=dt)
    if memory is not None:
        return {"set": patterns, "memory": memory, "how": f"pretrained, {memory.train_steps} steps", "seconds": 0.0}
    steps = many_steps if many_steps is not None else FALLBACK_STEPS
    cfg = {**MANY["memory"], "train_steps": steps, "seed": seed}
    tic = time.perf_counter()
    # Unseen sentences are restored by the iterated MAP update at the query's noise level (the
    # diffusion analogue of a synchronous Hopfield update): the ancestral sampler redraws tokens
    # wherever the model is unsure, which for an imperfect language model breaks about as many
    # intact characters as it repairs.
    memory = models.make(
        "diffusion", **cfg, sampler="fixed_point", dt=dt, checkpoint=ckpt_root / f"many_s{seed}_{steps}"
    )
    memory.fit(patterns.train, vocab_size=patterns.vocab_size)
    how = f"trained here, {steps} steps" + ("" if many_steps is not None else " -- pretrained weights not usable")
    return {"set": patterns, "memory": memory, "how": how, "seconds": time.perf_counter() - tic}


def _unseen(few: dict, many: dict, seed: int, t_unseen: float, n_generate: int) -> dict[str, Any]:
    """Held-out sentences corrupted at ``t_unseen``, restored by both memories and the oracle (MAP)."""
    patterns, memory = many["set"], many["memory"]
    V, test = patterns.vocab_size, patterns.test  # (128, L), never trained on
    oracle = models.make("oracle", sampler="fixed_point", seed=seed).fit(patterns.train, vocab_size=V)
    q = resample(test, t_unseen, V, generator=generator(seed, 4))
    r_many = memory.retrieve(q, noise=t_unseen, record=True)
    r_orc = oracle.retrieve(q, noise=t_unseen)
    r_few = few["map"].retrieve(q, noise=t_unseen)
    H_path = _entropy_path(memory.denoise, r_many.trajectory)  # (T, 128)
    generated = memory.generate(n_generate, generator=generator(seed, 6))
    out = {"test": test, "queries": q, "r_many": r_many, "r_oracle": r_orc, "H_path": H_path}
    for name, r in (("many", r_many), ("oracle", r_orc), ("few", r_few)):
        out[f"recovery_{name}"] = float(recovery_rate(r.states, test, q).nanmean())
        out[f"broken_{name}"] = float(unstable_rate(r.states, test, q).nanmean())
    out["accuracy"] = {
        "query": float((q == test).double().mean()),
        "many": float((r_many.states == test).double().mean()),
        "oracle": float((r_orc.states == test).double().mean()),
    }
    out["H_test"] = float(H_path[-1].mean())
    out["H_train"] = float(_entropy_path(memory.denoise, patterns.train[None, :128])[0].mean())
    out["generated"] = generated
    labels = np.asarray(classify_generations(generated.states, patterns.train))
    out["copies"] = int((labels == "memorised").sum())
    out["H_generated"] = float(_entropy_path(memory.denoise, generated.states[None])[0].mean())
    return out


def _numbers(few: dict, many: dict, unseen: dict, n_generate: int) -> dict[str, Any]:
    return {
        "few_exact": few["exact"],
        "few_K": FEW["K"],
        "many_K": many["set"].n_train,
        "few_entropy_final": float(few["r"].entropy.mean()),
        "few_entropy_train": few["H_train"],
        "few_copies": few["copies"],
        "few_seconds": few["seconds"],
        "few_loaded": few["loaded"],
        "many_how": many["how"],
        "many_seconds": many["seconds"],
        "recovery_many": unseen["recovery_many"],
        "recovery_oracle": unseen["recovery_oracle"],
        "recovery_few_on_unseen": unseen["recovery_few"],
        "broken_many": unseen["broken_many"],
        "broken_oracle": unseen["broken_oracle"],
        "broken_few_on_unseen": unseen["broken_few"],
        "accuracy_unseen": unseen["accuracy"],
        "many_entropy_test": unseen["H_test"],
        "many_entropy_train": unseen["H_train"],
        "many_entropy_generated": unseen["H_generated"],
        "many_copies": unseen["copies"],
        "n_generate": n_generate,
        "source": few["set"].params["source"],
    }


def _decoder(patterns):
    def dec(tokens) -> str:
        return decode_text(torch.as_tensor(tokens, dtype=torch.long), patterns.params, strip=False)

    return dec


def _restoration_lines(few: dict, many: dict, unseen: dict, t_train, t_unseen, dt) -> list[str]:
    """Every step of one restoration by each model, as printed text."""
    dec, k_many = _decoder(few["set"]), many["set"].n_train
    lines = [f"restoring training sentence 0 (t = {t_train}), {FEW['K']}-sentence model:"]
    grid = time_grid(t_train, dt).tolist() + [0.0]
    for j in _changed_steps(few["r"].trajectory):
        text = dec(few["r"].trajectory[j, 0])
        lines.append(f"  step {j:2d}  t = {grid[j]:.2f}  H = {float(few['H_path'][j, 0]):.2f}  |{text}|")
    lines.append(f"restoring unseen sentence 0 (t = {t_unseen}, iterated MAP), {k_many}-sentence model:")
    for j in _changed_steps(unseen["r_many"].trajectory):
        text = dec(unseen["r_many"].trajectory[j, 0])
        lines.append(f"  step {j:2d}  H = {float(unseen['H_path'][j, 0]):.2f}  |{text}|")
    return lines


def _notes(few: dict, many: dict, unseen: dict, t_train, t_unseen, n_generate) -> list[str]:
    V, k_many, acc = few["set"].vocab_size, many["set"].n_train, unseen["accuracy"]
    train_note = "loaded from cache" if few["loaded"] else f"trained in {few['seconds']:.0f} s"
    return [
        f"{FEW['K']} sentences ({few['steps']} steps, {train_note}): {few['exact']}/{FEW['K']} training "
        f"sentences restored exactly from t = {t_train} (about {t_train * (1 - 1 / V):.0%} of characters resampled); "
        f"conditional entropy {float(few['r'].entropy.mean()):.2f} nats; {few['copies']}/{n_generate} generations "
        "are copies of training sentences: it memorised.",
        f"{k_many} sentences ({many['how']}), {len(unseen['test'])} unseen sentences at t = {t_unseen} (MAP): it "
        f"repairs {unseen['recovery_many']:.0%} of the corrupted characters and breaks {unseen['broken_many']:.1%} "
        f"of the intact ones (characters correct {acc['query']:.0%} -> {acc['many']:.0%}); the exact memory of the "
        f"same sentences (oracle) repairs {unseen['recovery_oracle']:.0%} but rewrites {unseen['broken_oracle']:.0%} "
        f"of the intact ones ({acc['oracle']:.0%} correct): it answers with training sentences.",
        f"Conditional entropy: {few['H_train']:.2f} nats on the 4 memorised sentences vs {unseen['H_train']:.2f} "
        f"(training), {unseen['H_test']:.2f} (unseen) and {unseen['H_generated']:.2f} (generated) for the "
        f"{k_many}-sentence model; {unseen['copies']}/{n_generate} of its generations copy a training sentence.",
    ]


def _gallery(path: Path, few, many, unseen, t_train, t_unseen, dt, n_generate) -> Path:
    """A-B: the few-sentence model restoring; C-D: unseen sentences and generations; E-F: entropies."""
    import matplotlib.pyplot as plt

    drawing.setup()
    fig = plt.figure(figsize=(15, 11))
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=[1.0, 1.0, 0.85], hspace=0.02)
    _panels_memorised(top, few, t_train, dt)
    _panels_unseen(middle, few, many, unseen, t_unseen, n_generate)
    _panels_entropy(bottom, few, many, unseen)
    V = few["set"].vocab_size
    fig.suptitle(f"A diffusion memory of sentences (character level, L = {TEXT_L}, V = {V})", y=1.01)
    drawing.text_key(fig, y=0.0, fontsize=10)
    return drawing.save_png(fig, path)


def _panels_memorised(sub, few: dict, t_train, dt) -> None:
    dec, clean, r = _decoder(few["set"]), few["set"].train, few["r"]
    tl, tr = sub.subfigures(1, 2, width_ratios=[1.25, 1.0])
    rows = []
    for i in range(FEW["K"]):
        ok = bool((r.states[i] == clean[i]).all())
        rows.append((f"query {i}", dec(few["noisy"][i]), dec(clean[i]), GREY))
        rows.append((f"restored {i}" + (" (exact)" if ok else ""), dec(r.states[i]), dec(clean[i]), GREEN))
    drawing.draw_text(tl.subplots(), rows, label_width=0.22)
    tl.suptitle(f"A. {FEW['K']} training sentences, corrupted at t = {t_train}, restored", x=0.02, ha="left")
    grid = time_grid(t_train, dt).tolist() + [0.0]
    keep = _changed_steps(r.trajectory)
    if len(keep) > 12:  # at most 12 lines: first, last and evenly spaced steps in between
        keep = [keep[int(round(x))] for x in np.linspace(0, len(keep) - 1, 12)]
    H = few["H_path"]
    rows = [
        (f"t = {grid[j]:.2f}  H = {float(H[j, 0]):.2f}", dec(r.trajectory[j, 0]), dec(clean[0]), None) for j in keep
    ]
    drawing.draw_text(tr.subplots(), rows, label_width=0.3)
    tr.suptitle("B. Sentence 0 step by step (H: conditional entropy, nats)", x=0.02, ha="left")


def _panels_unseen(sub, few: dict, many: dict, unseen: dict, t_unseen, n_generate) -> None:
    dec, k_many, test = _decoder(few["set"]), many["set"].n_train, unseen["test"]
    rows = []
    for i in range(4):
        ref = dec(test[i])
        rows.append((f"unseen {i}", ref, None, GREY))
        rows.append(("  corrupted", dec(unseen["queries"][i]), ref, GREY))
        rows.append((f"  {k_many}-sentence model", dec(unseen["r_many"].states[i]), ref, GREEN))
        rows.append(("  oracle (exact memory)", dec(unseen["r_oracle"].states[i]), ref, model_style("oracle").colour))
    ml, mr = sub.subfigures(1, 2, width_ratios=[1.25, 1.0])
    drawing.draw_text(ml.subplots(), rows, fontsize=9.5, label_width=0.3)
    ml.suptitle(f"C. Unseen sentences (t = {t_unseen}): {k_many}-sentence model vs exact memory", x=0.02, ha="left")
    rows = [(f"{FEW['K']} sent.", dec(g), None, GREY) for g in few["generated"].states[: n_generate // 2]]
    rows += [(f"{k_many} sent.", dec(g), None, GREEN) for g in unseen["generated"].states[: n_generate // 2]]
    drawing.draw_text(mr.subplots(), rows, label_width=0.22)
    mr.suptitle("D. Generated from pure noise", x=0.02, ha="left")


def _panels_entropy(sub, few: dict, many: dict, unseen: dict) -> None:
    k_many = many["set"].n_train
    bl, br = sub.subfigures(1, 2, width_ratios=[1.0, 1.0])
    a = bl.subplots()
    labels = [f"{FEW['K']}: train", f"{k_many}: train", f"{k_many}: unseen", f"{k_many}: generated"]
    values = [few["H_train"], unseen["H_train"], unseen["H_test"], unseen["H_generated"]]
    a.bar(labels, values, color=["0.55", GREEN, GREEN, GREEN])
    for x, v in enumerate(values):
        a.text(x, v + 0.03, f"{v:.2f}", ha="center", fontsize=9)
    a.set_ylabel("conditional entropy (nats / token)")
    a.axhline(0.15, color="0.5", ls=":", lw=1, label="memorised: <= 0.15 nats")
    a.legend(fontsize=8, loc="upper left")
    bl.suptitle("E. Memorisation probe: conditional entropy at t = 1e-5", x=0.02, ha="left")
    a = br.subplots()
    for k in range(few["H_path"].shape[1]):
        label = f"{FEW['K']} sentences, training (ancestral steps)" if k == 0 else None
        a.plot(few["H_path"][:, k].numpy(), color="0.55", lw=1.2, label=label)
    for k in range(min(8, unseen["H_path"].shape[1])):
        label = f"{k_many} sentences, unseen (MAP iterations)" if k == 0 else None
        a.plot(unseen["H_path"][:, k].numpy(), color=GREEN, lw=1.2, alpha=0.8, label=label)
    a.set_xlabel("sampler step")
    a.set_ylabel("H of the current state (nats)")
    a.legend(fontsize=8)
    br.suptitle("F. Entropy along the restoration", x=0.02, ha="left")


def _animation(path: Path, few: dict, many: dict, unseen: dict, t_train, t_unseen) -> Path:
    H_few, H_many = few["H_path"], unseen["H_path"]
    common = {"curve_label": "entropy (nats)", "decode": _decoder(few["set"])}
    common["ylim"] = (0.0, 1.1 * float(max(H_few.max(), H_many[:, :4].max())))
    captions = [f"sentence {i + 1}" for i in range(4)]
    tracks = [
        animation.Track(
            f"{FEW['K']} sentences stored (memorised): its training sentences from t = {t_train}, ancestral sampler",
            few["r"].trajectory.numpy(),
            H_few.numpy(),
            reference=few["set"].train.numpy(),
            captions=captions[: FEW["K"]],
            x_label="sampler step",
            **common,
        ),
        animation.Track(
            f"{many['set'].n_train} sentences stored: unseen sentences from t = {t_unseen}, MAP updates",
            unseen["r_many"].trajectory[:, :4].numpy(),
            H_many[:, :4].numpy(),
            reference=unseen["test"][:4].numpy(),
            captions=captions,
            x_label="MAP update",
            **common,
        ),
    ]
    title, key = "Restoring sentences token by token", animation.TEXT_KEY
    return animation.animate(path, tracks, title=title, fps=3, width=12.0, key=key)
