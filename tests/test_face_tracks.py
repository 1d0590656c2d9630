"""Face tracks follow a person, not a place: a face replaced in place by another starts a new track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from emofuse.analysis.faces import SAME_FACE_MIN, FacePath, appearance

H, W = 240, 320
BOX = 100  # face box side, pixels


class _Expert:
    name = "fake-face"

    def predict(self, crops: np.ndarray) -> object:
        return type("Out", (), {"ekman": np.full((len(crops), 7), 1 / 7, np.float32)})()


def _face(seed: int) -> np.ndarray:
    """A generated face-sized grey pattern (smooth blobs, full contrast): one 'person' per seed."""
    x = gaussian_filter(np.random.default_rng(seed).normal(size=(BOX + 40, BOX + 40)), 6)
    return ((x - x.min()) / (x.max() - x.min()) * 200 + 30).astype(np.float32)


def _frame(k: int, face: np.ndarray, gain: float = 1.0, dx: int = 0) -> np.ndarray:
    img = np.full((H, W), 90.0, np.float32)
    x0, y0 = 90 + dx, 50
    img[y0 - 20:y0 + BOX + 20, x0 - 20:x0 + BOX + 20] = face * gain
    img += np.random.default_rng(100 + k).normal(0, 3, img.shape)
    rgb = np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    rgb[0, 0] = (k, dx + 128, 0)  # the frame index and the face's shift, read by the detector
    return rgb


def _detector(rgb: np.ndarray) -> list[tuple[float, ...]]:
    dx = int(rgb[0, 0, 1]) - 128
    return [(90.0 + dx, 50.0, 90.0 + dx + BOX, 50.0 + BOX, 0.95)]


def _track(frames: list[np.ndarray], live: bool = False) -> tuple[list[int | None], list[dict]]:
    path = FacePath(_Expert(), detector=_detector, batch=4)
    for k, img in enumerate(frames):
        path.process(k * 0.25, img)
        if live:  # a live caller reads the timeline as frames come
            path.frames()
    timeline, tracks = path.finish()
    return [f.track for f in timeline], tracks


def test_a_face_replaced_in_place_starts_a_new_track() -> None:
    a, b = _face(1), _face(2)
    frames = [_frame(k, a if k < 10 else b, dx=k % 3) for k in range(20)]
    ids, tracks = _track(frames)
    assert len(tracks) == 2 and sorted(t["n_frames"] for t in tracks) == [10, 10]
    assert ids[:10] == [ids[0]] * 10 and ids[10:] == [ids[10]] * 10 and ids[0] != ids[10]
    # position only (the old behaviour) had merged the two people into one track
    path = FacePath(_Expert(), detector=_detector, min_similarity=-1)
    for k, img in enumerate(frames):
        path.process(k * 0.25, img)
    assert len(path.finish()[1]) == 1


def test_the_same_face_moving_and_changing_light_stays_one_track() -> None:
    a = _face(1)
    frames = [_frame(k, a, gain=0.75 + 0.5 * k / 19, dx=2 * k) for k in range(20)]
    ids, tracks = _track(frames)
    assert len(tracks) == 1 and tracks[0]["n_frames"] == 20 and set(ids) == {tracks[0]["id"]}


def test_one_odd_frame_does_not_end_the_track() -> None:
    a = _face(1)
    frames = [_frame(k, _face(7) if k == 8 else a, dx=k % 2) for k in range(20)]  # a hand over the face, say
    ids, tracks = _track(frames)
    assert [t["n_frames"] for t in tracks] == [19, 1] and tracks[0]["main"]
    assert ids.count(tracks[0]["id"]) == 19


def test_live_and_batch_give_the_same_tracks() -> None:
    a, b = _face(1), _face(2)
    frames = [_frame(k, a if k < 12 else b) for k in range(20)]
    assert _track(frames, live=True) == _track(frames, live=False)


def test_appearance_is_stable_under_light_and_tilt() -> None:
    from scipy.ndimage import rotate

    a = _face(3)[20:68, 20:68]
    look = appearance(a.astype(np.uint8))
    for changed in (a * 0.7 + 40, rotate(a, 15, reshape=False, mode="nearest"), np.roll(a, 2, axis=1)):
        assert float((appearance(changed.astype(np.uint8)) @ look[0]).max()) > SAME_FACE_MIN
    assert float((appearance(_face(4)[20:68, 20:68].astype(np.uint8)) @ look[0]).max()) < SAME_FACE_MIN
    assert appearance(np.full((48, 48), 128, np.uint8)) is None  # a flat crop says nothing


@pytest.mark.integration
def test_a_real_face_drifting_over_a_video_is_one_track(tmp_path: Path) -> None:
    pytest.importorskip("av")
    pytest.importorskip("mediapipe")
    import emofuse
    from emofuse.data.synth_media import demo_face, write_video

    video = write_video(tmp_path / "face.mp4", duration_s=8.0, width=480, height=270, fps=6, face=demo_face())
    res = emofuse.analyze(video, config={"asr": False, "text": False, "audio": False, "fps": 3.0})
    assert len(res.faces) == 1 and res.faces[0]["n_frames"] >= 20
