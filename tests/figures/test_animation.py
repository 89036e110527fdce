"""Demo animations: wide enough, legible, nothing cut off, and every frame a visible change.

``check_gif`` reads a written GIF back with Pillow; the demo tests call it on every demo's GIF.
"""

from __future__ import annotations

import numpy as np
import pytest

from experiments.demos import animation

PIL = pytest.importorskip("PIL")


def check_gif(path, hold_ms: int = 1000) -> list[np.ndarray]:
    """Assert the GIF is at least MIN_WIDTH_PX wide, has >= 2 frames, holds the first and last, never repeats."""
    from PIL import Image, ImageSequence

    with Image.open(path) as im:
        assert im.width >= animation.MIN_WIDTH_PX, im.size
        frames, durations = [], []
        for f in ImageSequence.Iterator(im):
            frames.append(np.asarray(f.convert("RGB"), dtype=np.int16))
            durations.append(f.info["duration"])
    assert len(frames) >= 2
    assert durations[0] >= hold_ms and durations[-1] >= hold_ms  # the query and the answer are held
    for k in range(1, len(frames)):
        changed = int((np.abs(frames[k] - frames[k - 1]).max(axis=2) > 0).sum())
        assert changed > 0, f"frame {k} repeats frame {k - 1}"
    return frames


def _tracks(T: int = 12, stall: int = 4):
    """Two image tracks whose states change only at some steps (and hold for ``stall`` steps in between)."""
    rng = np.random.default_rng(0)
    states = np.zeros((T, 3, 16), dtype=np.int64)
    states[0] = rng.integers(0, 2, (3, 16))
    for k in range(1, T):
        states[k] = states[k - 1]
        if k % stall == 0:
            states[k, :, k % 16] ^= 1
    curve = -np.cumsum(np.ones((T, 3)), axis=0)
    a = animation.Track("binary", states, curve, shape=(4, 4), captions=["a", "b", "c"])
    grey = np.linspace(-1, 1, 16)[None, None] * np.linspace(1, 0.99, T)[:, None, None]  # creeps by < 0.01
    b = animation.Track("continuous", grey, curve[:, :1], shape=(4, 4), continuous=True)
    return a, b


def test_changing_steps_keeps_visible_changes_and_the_end():
    a, b = _tracks()
    assert animation.changing_steps([a]) == [0, 4, 8]  # the last step (11) equals step 8: no extra frame
    # the creeping continuous track never changes by 0.05 in grey level, but it ends elsewhere
    assert animation.changing_steps([b]) == [0, 11]
    assert animation.changing_steps([b], min_change=0.0) == list(range(12))
    assert animation.changing_steps([a, b]) == [0, 4, 8, 11]


def test_gif_has_one_frame_per_change_and_is_legible(tmp_path):
    a, b = _tracks()
    path = animation.animate(tmp_path / "t.gif", [a, b], title="test", key=animation.TEXT_KEY)
    frames = check_gif(path)
    assert len(frames) == len(animation.changing_steps([a, b]))


def test_text_is_large_enough_and_inside_the_frame():
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    a, b = _tracks()
    text = animation.Track(
        "text",
        np.zeros((3, 2, 10), dtype=np.int64),
        np.zeros((3, 2)),
        decode=lambda t: "abcdefghij",
        captions=["x", "y"],
    )
    fig, step, artists = animation.build([a, b, text], title="a title", key=animation.TEXT_KEY)
    for art in artists:
        art.update(1, 0)
    step.set_text("step 1 of 2")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    seen = 0
    for t in fig.findobj(Text):
        if not t.get_text() or not t.get_visible():
            continue
        seen += 1
        assert t.get_fontsize() * animation.DPI / 72 >= animation.MIN_TEXT_PX, (t.get_text(), t.get_fontsize())
        e = t.get_window_extent(renderer)
        assert e.x0 >= box.x0 - 1 and e.x1 <= box.x1 + 1 and e.y0 >= box.y0 - 1 and e.y1 <= box.y1 + 1, t.get_text()
    assert seen > 20
    plt.close(fig)


def test_too_narrow_is_refused():
    a, _ = _tracks()
    with pytest.raises(ValueError, match="width"):
        animation.build([a], title="t", width=5.0)
