"""`emofuse evaluate <expert> <corpus>` on generated corpora in official layouts."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")

pytestmark = pytest.mark.integration


def _voice(sr: float, f0: float, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))
    envelope = 0.5 * (1 - np.cos(2 * np.pi * t * 2.0)) ** 2
    return (0.2 * wave * envelope + 0.003 * rng.normal(size=t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def emodb_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("emodb") / "wav"
    d.mkdir()
    for i, (name, f0) in enumerate([("03a01Wa", 220), ("03a01Nc", 120), ("08a02Fb", 260), ("08a02Lc", 110),
                                    ("11b01Ta", 140)]):
        sf.write(d / f"{name}.wav", _voice(22050, f0, seed=i), 22050)  # EmoDB copy rate: resampled, not rejected
    return d


def run(*args):
    return subprocess.run([sys.executable, "-m", "emofuse", *args], capture_output=True, text=True, timeout=300)


def test_evaluate_voice_expert_on_emodb_layout(tmp_path, emodb_dir):
    proc = run("evaluate", "voice-ekman", str(emodb_dir), "--json", "--predictions", str(tmp_path / "p.csv"))
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)
    assert metrics["n"] == 5 and metrics["space"] == "ekman7"
    # boredom maps to neutral, so nothing is dropped; the confusion matrix counts every item
    assert metrics["dropped"] == 0
    assert int(np.sum(metrics["confusion_matrix"])) == 5
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert [r["id"] for r in rows] and len(rows) == 5
    assert {r["true"] for r in rows} <= {"anger", "neutral", "happiness", "sadness"}
    probs = np.array([[float(r[f"p_{c}"]) for c in metrics["classes"]] for r in rows])
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-4)


def test_unknown_expert_is_suggested(emodb_dir):
    proc = run("evaluate", "voice-ekmn", str(emodb_dir))
    assert proc.returncode == 2 and "Did you mean: voice-ekman" in proc.stderr


# ---------------------------------------------------------------------------- face images of any size
def _face_folder(root):
    """Class folders of face images as users have them: a 48x48 grey crop, colour and grey photos, no face."""
    from PIL import Image

    from emofuse.data.synth_media import demo_face

    face = Image.fromarray(demo_face())  # public-domain portrait shipped with the demo
    canvas = np.full((400, 400, 3), 128, np.uint8)
    canvas[90:310, 90:310] = np.asarray(face.resize((220, 220)))
    for c in ("happy", "neutral", "sad"):
        (root / c).mkdir(parents=True)
    face.resize((48, 48)).convert("L").save(root / "happy" / "crop48.png")
    Image.fromarray(canvas).save(root / "neutral" / "photo.jpg", quality=90)
    Image.fromarray(canvas).convert("L").save(root / "sad" / "photo_grey.png")
    flat = np.random.default_rng(0).integers(100, 110, (240, 320, 3), dtype=np.uint8)
    Image.fromarray(flat).save(root / "sad" / "wall.jpg")
    (root / "sad" / "broken.png").write_bytes(b"not an image")
    return root


def test_evaluate_face_expert_on_image_folder_counts_faceless_images(tmp_path):
    from emofuse.experts.evaluate import evaluate_expert

    root = _face_folder(tmp_path / "faces")
    seen = []

    def detector(rgb):  # a photo's face lies in its centre; the flat "wall" has none
        seen.append(rgb.shape)
        return [] if rgb.std() < 10 else [(100.0, 95.0, 300.0, 295.0, 0.9)]

    metrics = evaluate_expert("face-fer2013", root, label_space="fer2013", detector=detector,
                              predictions=tmp_path / "p.csv")
    # the 48x48 crop skips detection; both photos (colour JPEG, grey PNG) and the wall go through it
    assert sorted(seen) == [(240, 320, 3), (400, 400, 3), (400, 400, 3)]
    assert metrics["n"] == 3 and metrics["no_face"] == 1 and metrics["unreadable"] == 1
    assert metrics["no_face_ids"] == ["sad/wall.jpg"] and metrics["unreadable_ids"] == ["sad/broken.png"]
    assert int(np.sum(metrics["confusion_matrix"])) == 3
    rows = {r["id"]: r for r in csv.DictReader(open(tmp_path / "p.csv"))}
    assert len(rows) == 5 and rows["sad/wall.jpg"]["skipped"] == "no_face" and rows["sad/wall.jpg"]["predicted"] == ""
    assert rows["happy/crop48.png"]["skipped"] == "" and rows["happy/crop48.png"]["predicted"] in metrics["classes"]


def test_evaluate_face_expert_refuses_a_folder_without_faces(tmp_path):
    from emofuse.errors import DataError
    from emofuse.experts.evaluate import evaluate_expert

    root = _face_folder(tmp_path / "faces")
    (root / "happy" / "crop48.png").unlink()  # a crop needs no detection: leave only the large images
    with pytest.raises(DataError, match=r"none of its 4 items .*no_face: 3, unreadable: 1"):
        evaluate_expert("face-fer2013", root, label_space="fer2013", detector=lambda rgb: [])


def test_cli_evaluate_face_folder_with_mediapipe(tmp_path):
    pytest.importorskip("mediapipe")
    root = _face_folder(tmp_path / "faces")
    proc = run("evaluate", "face-fer2013", str(root), "--label-space", "fer2013", "--json")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)
    # MediaPipe finds the portrait in both photos, and nothing in the flat wall
    assert metrics["n"] == 3 and metrics["no_face"] == 1 and metrics["unreadable"] == 1


def test_evaluate_text_expert_on_goemotions_with_the_ekman_view(tmp_path):
    """`--view ekman7` is scored as the single-label Ekman view (comments in one Ekman group)."""
    from emofuse.experts.evaluate import evaluate_expert
    from emofuse.labels import get_label_space

    GO28 = get_label_space("goemotions28").classes  # noqa: N806 - the file's label order

    root = tmp_path / "go"
    root.mkdir()
    (root / "emotions.txt").write_text("\n".join(GO28) + "\n", encoding="utf-8")
    lines = [("I am so happy and grateful today", "17", "a"), ("this makes me furious", "2", "b"),
             ("so sad and lonely", "25", "c"), ("happy but also angry", "17,2", "d")]
    tsv = root / "test.tsv"
    tsv.write_text("".join(f"{t}\t{ids}\t{cid}\n" for t, ids, cid in lines), encoding="utf-8")
    m = evaluate_expert("text-goemotions", tsv, view="ekman7", predictions=tmp_path / "p.csv")
    assert m["space"] == "ekman7" and m["dropped"] == 1  # the two-group comment is not scored
    assert m["accuracy"] >= 2 / 3
    out = run("evaluate", "text-goemotions", str(tsv), "--view", "ekman7", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["dropped"] == 1


def test_evaluate_by_group_reports_each_group_and_the_gap(emodb_dir):
    from emofuse.errors import DataError
    from emofuse.experts.evaluate import evaluate_expert

    m = evaluate_expert("voice-ekman", emodb_dir, by="gender")
    groups = m["by_group"]["groups"]
    assert set(groups) == {"female", "male"}  # EmoDB speakers 03, 11 male; 08 female (from the docs)
    assert sum(g["n"] for g in groups.values()) == m["n"] == 5
    accs = [g["accuracy"] for g in groups.values()]
    assert m["by_group"]["accuracy_gap"] == pytest.approx(max(accs) - min(accs), abs=1e-4)
    by_speaker = evaluate_expert("voice-ekman", emodb_dir, by="speaker")["by_group"]["groups"]
    assert set(by_speaker) == {"03", "08", "11"}
    with pytest.raises(DataError, match="no such field"):
        evaluate_expert("voice-ekman", emodb_dir, by="age")
    proc = run("evaluate", "voice-ekman", str(emodb_dir), "--by", "gender")
    assert proc.returncode == 0 and "worst-group gap" in proc.stdout, proc.stderr
