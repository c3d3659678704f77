"""Camera files -> ``{name: Camera}``: posekit's JSON, Human3.6M-style camera JSON and Martinez et al.'s ``cameras.h5``.

Every camera becomes a :class:`posekit.threed.cameras.Camera` (``X_cam = R X_world + t``, millimetres, OpenCV
camera frame, pixels with the origin at the top-left pixel's corner, OpenCV distortion ``(k1, k2, p1, p2, k3)``).

Formats (chosen by the file, see :func:`load_cameras`):

(a) posekit JSON (written by :func:`save_cameras`)::

        {"cameras": [{"name": "cam0", "image_size": [w, h], "K": 3x3, "R": 3x3, "t": [3] (mm),
                      "dist": [k1, k2, p1, p2, k3] or null}]}

(b) Human3.6M-style JSON: ``{subject: {camera_id: CAM}}``, ``{subject: [CAM, ...]}``, ``{camera_id: CAM}`` or
    VideoPose3D's two tables dumped as ``{"intrinsic": [CAM, ...], "extrinsic": {subject: [CAM, ...]}}`` (merged by
    list position, as ``common/h36m_dataset.py`` does), with an optional top-level ``"unit": "mm" | "m"`` for the
    translations (default mm). Keys of one ``CAM``, spelled as the public tools spell them:

    - rotation: ``R`` (3x3 world -> camera, as ``R`` after Martinez' ``load_camera_params``) or ``orientation``
      (VideoPose3D: unit quaternion ``(w, x, y, z)`` of the camera -> world rotation, ``world_to_camera`` applies
      its inverse);
    - position: ``T`` (Martinez / H36M metadata: the camera *centre* in world, ``X_cam = R (X - T)``),
      ``translation`` (VideoPose3D's extrinsic table: the camera centre too, in mm in the source table; its loader
      divides by 1000), or ``t`` (the translation, ``X_cam = R X + t``, as posekit and Moon et al.'s H36M JSON);
    - intrinsics: ``f`` / ``focal_length`` ``(fx, fy)`` and ``c`` / ``center`` ``(cx, cy)`` pixels, or ``K``;
    - distortion: ``k`` / ``radial_distortion`` ``(k1, k2, k3)``; ``p`` (Martinez / H36M order) or
      ``tangential_distortion`` (VideoPose3D order, which is ``p`` reversed: see :func:`h36m_distort`);
    - image size: ``res_w`` + ``res_h``, ``w`` + ``h`` or ``image_size``; without them H36M's known sizes by
      camera id (:data:`H36M_IMAGE_SIZES`; ids ``1..4`` are H36M's cameras in :data:`H36M_CAMERA_IDS` order),
      else an error.

    Array values may be nested as the tools store them (``(3, 1)`` for ``T`` ...). Cameras are named
    ``"S9/54138969"`` (subject / camera id; the list position ``1..4`` when a camera has no ``id``).

(c) Martinez et al.'s ``cameras.h5`` (3d-pose-baseline): groups ``subject{s}/camera{c}`` holding ``R`` (3, 3),
    ``T`` (3, 1) mm, ``f`` (2, 1), ``c`` (2, 1), ``k`` (3, 1), ``p`` (2, 1) and ``Name`` (character codes). Its
    ``load_camera_params`` transposes the stored ``R`` (``R = hf[...]['R'][:]; R = R.T``) and projects with
    ``X = R.dot(P.T - T)``: the stored matrix is the camera -> world rotation (MATLAB's column order), ``T`` the
    camera centre. Names: ``"S{s}/{Name}"``.

Distortion: H36M's model (the MATLAB ``ProjectPointRadial`` that Martinez' ``project_point_radial`` and
VideoPose3D's ``project_to_2d`` reimplement) has OpenCV's radial part but a different tangential part (module
function :func:`h36m_distort`), which OpenCV's 5 coefficients cannot express exactly. The radial coefficients map
exactly (``k1, k2, k3`` -> OpenCV ``k1, k2, _, _, k3``); OpenCV's ``(p1, p2)`` are the least-squares fit of H36M's
tangential displacement over the image (:func:`h36m_to_opencv_dist`). With H36M's magnitudes (``|p|`` up to
3e-3) the fitted camera projects within 0.5 px of the exact formula everywhere in the image (mean ~0.1 px; exact
when ``p = 0``; tests/threed/test_camera_io.py); :func:`project_h36m` is the exact formula for parity work.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from posekit.io.atomic import atomic_destination
from posekit.threed.cameras import Camera

__all__ = [
    "H36M_CAMERA_IDS", "H36M_IMAGE_SIZES", "camera_from_h36m", "h36m_distort", "h36m_to_opencv_dist",
    "load_cameras", "project_h36m", "quaternion_to_matrix", "save_cameras", "subject_cameras",
]

H36M_CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
"""Human3.6M's cameras in the order of Martinez' ``camera1..4`` and VideoPose3D's per-action 2D lists."""

H36M_IMAGE_SIZES: dict[str, tuple[int, int]] = {
    "54138969": (1000, 1002), "55011271": (1000, 1000), "58860488": (1000, 1000), "60457274": (1000, 1002),
}
"""``(width, height)`` pixels of the Human3.6M videos per camera id (VideoPose3D's ``res_w``/``res_h``)."""

_UNITS = {"mm": 1.0, "m": 1000.0}


# ---------------------------------------------------------------------------------------- H36M distortion


def h36m_distort(xy: Any, k: Any, p: Any) -> np.ndarray:
    """Human3.6M's lens model on normalized coordinates ``(..., 2)`` (x/z, y/z), ``p`` in Martinez' order.

    As ``project_point_radial`` (3d-pose-baseline ``src/cameras.py``)::

        radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3,   tan = p[0] y + p[1] x
        x_d = x (radial + tan) + p[1] r2,          y_d = y (radial + tan) + p[0] r2

    VideoPose3D's ``project_to_2d`` writes ``tan = p[0] x + p[1] y`` and ``+ p * r2``: the same model with its
    ``tangential_distortion`` = this ``p`` reversed.
    """
    xy = np.asarray(xy, dtype=np.float64)
    k = np.ravel(np.asarray(k, dtype=np.float64))
    p = np.ravel(np.asarray(p, dtype=np.float64))
    if k.shape != (3,) or p.shape != (2,):
        raise ValueError(f"k must have 3 and p 2 coefficients, got {k.shape} and {p.shape}")
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1.0 + r2 * (k[0] + r2 * (k[1] + r2 * k[2]))
    tan = p[0] * y + p[1] * x
    return np.stack([x * (radial + tan) + p[1] * r2, y * (radial + tan) + p[0] * r2], axis=-1)


def project_h36m(points: Any, R: Any, T: Any, f: Any, c: Any, k: Any, p: Any) -> np.ndarray:
    """World points ``(..., 3)`` mm -> pixels ``(..., 2)`` by H36M's exact model: ``X = R (P - T)`` (``R`` world ->
    camera, ``T`` camera centre), then :func:`h36m_distort`, then ``f * xy + c``."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim < 1 or pts.shape[-1] != 3:
        raise ValueError(f"points must have shape (..., 3), got {pts.shape}")
    R = np.asarray(R, dtype=np.float64).reshape(3, 3)
    cam = (pts - np.ravel(np.asarray(T, dtype=np.float64))) @ R.T
    xy = h36m_distort(cam[..., :2] / cam[..., 2:3], k, p)
    return xy * np.ravel(np.asarray(f, dtype=np.float64)) + np.ravel(np.asarray(c, dtype=np.float64))


def h36m_to_opencv_dist(k: Any, p: Any, K: Any, image_size: tuple[int, int], *, grid: int = 41) -> np.ndarray:
    """OpenCV ``(k1, k2, p1, p2, k3)`` for H36M's ``k`` (3) and ``p`` (2, Martinez' order).

    The radial terms are copied; ``(p1, p2)`` minimise the squared difference between OpenCV's tangential
    displacement ``(2 p1 x y + p2 (r2 + 2 x^2), p1 (r2 + 2 y^2) + 2 p2 x y)`` and H36M's
    ``(p[1] (r2 + x^2) + p[0] x y, p[0] (r2 + y^2) + p[1] x y)`` on a ``grid x grid`` lattice of normalized
    coordinates spanning the image (``(pixel - c) / f``). Zero ``p`` gives zero ``(p1, p2)`` (exact).
    """
    k = np.ravel(np.asarray(k, dtype=np.float64))
    p = np.ravel(np.asarray(p, dtype=np.float64))
    if k.shape != (3,) or p.shape != (2,):
        raise ValueError(f"k must have 3 and p 2 coefficients, got {k.shape} and {p.shape}")
    K = np.asarray(K, dtype=np.float64)
    w, h = image_size
    xs = (np.linspace(0.0, w, grid) - K[0, 2]) / K[0, 0]
    ys = (np.linspace(0.0, h, grid) - K[1, 2]) / K[1, 1]
    x, y = (a.ravel() for a in np.meshgrid(xs, ys))
    r2 = x * x + y * y
    target = np.concatenate([p[1] * (r2 + x * x) + p[0] * x * y, p[0] * (r2 + y * y) + p[1] * x * y])
    design = np.stack([np.concatenate([2 * x * y, r2 + 2 * y * y]), np.concatenate([r2 + 2 * x * x, 2 * x * y])],
                      axis=1)
    q = np.linalg.lstsq(design, target, rcond=None)[0]
    return np.array([k[0], k[1], q[0], q[1], k[2]])


def quaternion_to_matrix(q: Any) -> np.ndarray:
    """``(3, 3)`` rotation of the unit quaternion ``(w, x, y, z)`` (normalised first), as VideoPose3D's ``qrot``."""
    q = np.ravel(np.asarray(q, dtype=np.float64))
    n = np.linalg.norm(q) if q.shape == (4,) else 0.0
    if n == 0 or not np.isfinite(n):
        raise ValueError(f"orientation must be a non-zero quaternion (w, x, y, z), got {q.tolist()}")
    w, x, y, z = q / n
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def camera_from_h36m(*, R: Any, f: Any, c: Any, k: Any = None, p: Any = None, T: Any = None, t: Any = None,
                     image_size: tuple[int, int]) -> Camera:
    """A :class:`Camera` from H36M parameters: ``R`` world -> camera, and either ``T`` (camera centre, mm) or ``t``
    (``X_cam = R X + t``, mm); ``f``, ``c`` pixels; ``k`` (3) and ``p`` (2, Martinez' order) or ``None``."""
    R = np.asarray(R, dtype=np.float64).reshape(3, 3)
    if (T is None) == (t is None):
        raise ValueError("give exactly one of T (camera centre) and t (translation)")
    t = -R @ np.ravel(np.asarray(T, dtype=np.float64)) if t is None else np.ravel(np.asarray(t, dtype=np.float64))
    f = np.ravel(np.asarray(f, dtype=np.float64))
    c = np.ravel(np.asarray(c, dtype=np.float64))
    if f.shape != (2,) or c.shape != (2,):
        raise ValueError(f"f and c must have 2 values each, got {f.shape} and {c.shape}")
    K = np.array([[f[0], 0.0, c[0]], [0.0, f[1], c[1]], [0.0, 0.0, 1.0]])
    dist = None
    if k is not None or p is not None:
        k = np.zeros(3) if k is None else k
        p = np.zeros(2) if p is None else p
        dist = h36m_to_opencv_dist(k, p, K, image_size)
    return Camera(K, R, t, dist, image_size)


# ---------------------------------------------------------------------------------------------- loading


def load_cameras(path: str | os.PathLike[str], *, subject: str | None = None) -> dict[str, Camera]:
    """Every camera of ``path``: ``.h5`` / ``.hdf5`` -> Martinez' ``cameras.h5`` (c); ``.json`` -> posekit's format
    (a) when it has a ``"cameras"`` list, else Human3.6M-style (b). Module docstring for the layouts.

    ``subject``: for per-subject files in the flat ``{camera_id: CAM}`` layout (e.g. Moon et al.'s
    ``Human36M_subject9_camera.json``: ids ``"1".."4"``, keys ``R``, ``t``, ``f``, ``c``), prefix the names
    (``"S9/1"``) so that :func:`subject_cameras` finds them.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unreadable file, or a camera with a missing / malformed key (the message names the file, the
            camera and the key).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"camera file not found: {str(path)!r}")
    if path.suffix.lower() in (".h5", ".hdf5"):
        return _load_h5(path)
    try:
        doc = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{str(path)!r} is not a JSON camera file: {exc}") from exc
    if not isinstance(doc, Mapping):
        raise ValueError(f"{str(path)!r}: expected a JSON object, got {type(doc).__name__}")
    if "cameras" in doc:
        return _load_posekit(doc, path)
    return _load_h36m_json(doc, path, subject)


def save_cameras(path: str | os.PathLike[str], cameras: Mapping[str, Camera]) -> Path:
    """Write ``cameras`` as posekit's camera JSON (format (a)); atomic. Returns the path."""
    items = []
    for name, cam in cameras.items():
        if not isinstance(cam, Camera):
            raise TypeError(f"camera {name!r} must be a posekit.threed.cameras.Camera, got {type(cam).__name__}")
        items.append({"name": str(name), "image_size": list(cam.image_size), "K": cam.K.tolist(),
                      "R": cam.R.tolist(), "t": cam.t.tolist(),
                      "dist": None if cam.dist is None else cam.dist.tolist()})
    path = Path(path)
    with atomic_destination(path) as tmp:
        tmp.write_text(json.dumps({"cameras": items}, indent=1) + "\n")
    return path


def subject_cameras(cameras: Mapping[str, Camera], subject: str) -> tuple[Camera, ...]:
    """The four cameras of ``subject`` in :data:`H36M_CAMERA_IDS` order (the order of VideoPose3D's 2D lists):
    ``"{subject}/{id}"`` keys, else ``"{subject}/1".."{subject}/4"``; raises ``KeyError`` naming what is there."""
    for keys in ([f"{subject}/{i}" for i in H36M_CAMERA_IDS], [f"{subject}/{i}" for i in range(1, 5)]):
        if all(k in cameras for k in keys):
            return tuple(cameras[k] for k in keys)
    have = sorted(k for k in cameras if k.startswith(f"{subject}/"))
    raise KeyError(f"cameras of {subject} missing: need {subject}/<id> for ids {', '.join(H36M_CAMERA_IDS)} (or "
                   f"{subject}/1..4); the camera file has {have or sorted(cameras)[:8]}")


def _array(value: Any, size: int, where: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where} must be numbers, got {value!r}") from exc
    if arr.size != size or not np.all(np.isfinite(arr)):
        raise ValueError(f"{where} must hold {size} finite numbers, got shape {arr.shape}: {arr.tolist()}")
    return arr.reshape(-1)


def _load_posekit(doc: Mapping[str, Any], path: Path) -> dict[str, Camera]:
    cams = doc["cameras"]
    if not isinstance(cams, list):
        raise ValueError(f"{str(path)!r}: 'cameras' must be a list, got {type(cams).__name__}")
    out: dict[str, Camera] = {}
    for i, entry in enumerate(cams):
        name = str(entry.get("name", i)) if isinstance(entry, Mapping) else str(i)
        where = f"{str(path)!r} camera {name!r}"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: must be an object, got {type(entry).__name__}")
        missing = [k for k in ("image_size", "K", "R", "t") if k not in entry]
        if missing:
            raise ValueError(f"{where}: missing key(s) {missing}")
        if name in out:
            raise ValueError(f"{where}: duplicate name")
        try:
            size = tuple(int(v) for v in _array(entry["image_size"], 2, "image_size"))
            dist = entry.get("dist")
            out[name] = Camera(_array(entry["K"], 9, "K").reshape(3, 3), _array(entry["R"], 9, "R").reshape(3, 3),
                               _array(entry["t"], 3, "t"), None if dist is None else _array(dist, 5, "dist"), size)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from exc
    return out


def _get(cam: Mapping[str, Any], *names: str) -> Any:
    for n in names:
        if n in cam:
            return cam[n]
    return None


def _h36m_camera(cam: Mapping[str, Any], name: str, unit: float, where: str) -> Camera:
    """One Human3.6M-style camera dict -> Camera (key spellings in the module docstring)."""
    if not isinstance(cam, Mapping):
        raise ValueError(f"{where}: must be an object, got {type(cam).__name__}")
    try:
        if "R" in cam:
            R = _array(cam["R"], 9, "R").reshape(3, 3)
        elif "orientation" in cam:
            R = quaternion_to_matrix(_array(cam["orientation"], 4, "orientation")).T
        else:
            raise ValueError(f"missing the rotation: key 'R' (world -> camera) or 'orientation' (quaternion); keys "
                             f"are {sorted(cam)}")
        centre = _get(cam, "T", "translation")
        if centre is not None and "t" in cam:
            raise ValueError("has both a camera centre ('T'/'translation') and a translation 't': keep one")
        pos = {"T": unit * _array(centre, 3, "T" if "T" in cam else "translation")} if centre is not None else None
        if pos is None:
            if "t" not in cam:
                raise ValueError(f"missing the position: key 'T' or 'translation' (camera centre) or 't' "
                                 f"(X_cam = R X + t); keys are {sorted(cam)}")
            pos = {"t": unit * _array(cam["t"], 3, "t")}
        if "K" in cam:
            K = _array(cam["K"], 9, "K").reshape(3, 3)
            f, c = K[[0, 1], [0, 1]], K[:2, 2]
        else:
            f, c = _get(cam, "f", "focal_length"), _get(cam, "c", "center")
            if f is None or c is None:
                raise ValueError(f"missing the intrinsics: keys 'f'/'focal_length' and 'c'/'center', or 'K'; keys "
                                 f"are {sorted(cam)}")
            f, c = _array(f, 2, "f"), _array(c, 2, "c")
        k = _get(cam, "k", "radial_distortion")
        k = None if k is None else _array(k, 3, "k")
        if "p" in cam:
            p = _array(cam["p"], 2, "p")
        elif "tangential_distortion" in cam:
            p = _array(cam["tangential_distortion"], 2, "tangential_distortion")[::-1]  # VideoPose3D's order
        else:
            p = None
        size = _image_size(cam, name)
        return camera_from_h36m(R=R, f=f, c=c, k=k, p=p, image_size=size, **pos)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc


def _image_size(cam: Mapping[str, Any], name: str) -> tuple[int, int]:
    for wk, hk in (("res_w", "res_h"), ("w", "h")):
        if wk in cam and hk in cam:
            return int(cam[wk]), int(cam[hk])
    if "image_size" in cam:
        return tuple(int(v) for v in _array(cam["image_size"], 2, "image_size"))  # type: ignore[return-value]
    cam_id = str(cam.get("id", name.rsplit("/", 1)[-1]))
    if cam_id in ("1", "2", "3", "4"):  # H36M's cameras by position (Martinez camera1..4, Moon et al.'s ids)
        cam_id = H36M_CAMERA_IDS[int(cam_id) - 1]
    if cam_id in H36M_IMAGE_SIZES:
        return H36M_IMAGE_SIZES[cam_id]
    raise ValueError("missing the image size: keys 'res_w' + 'res_h', 'w' + 'h' or 'image_size' (known only for "
                     f"H36M camera ids {', '.join(H36M_CAMERA_IDS)})")


def _is_camera(value: Any) -> bool:
    return isinstance(value, Mapping) and any(k in value for k in ("R", "orientation", "f", "focal_length", "K"))


def _load_h36m_json(doc: Mapping[str, Any], path: Path, subject: str | None) -> dict[str, Camera]:
    unit_name = doc.get("unit", "mm")
    if unit_name not in _UNITS:
        raise ValueError(f"{str(path)!r}: 'unit' must be 'mm' or 'm', got {unit_name!r}")
    unit = _UNITS[unit_name]
    intr = _get(doc, "intrinsic", "intrinsics")
    extr = _get(doc, "extrinsic", "extrinsics")
    if (intr is None) != (extr is None):
        raise ValueError(f"{str(path)!r}: VideoPose3D-style files need both 'intrinsic' and 'extrinsic' tables")
    if intr is not None:
        if not isinstance(intr, list) or not isinstance(extr, Mapping):
            raise ValueError(f"{str(path)!r}: 'intrinsic' must be a list and 'extrinsic' a {{subject: [...]}} object")
        # merged by list position; empty extrinsics (VideoPose3D's S2-S4) become None and are skipped
        doc = {s: [({**intr[i], **e} if e else None) if i < len(intr) and isinstance(e, Mapping) else e
                   for i, e in enumerate(v)] if isinstance(v, list) else v for s, v in extr.items()}
    out: dict[str, Camera] = {}
    for key, value in doc.items():
        if key == "unit":
            continue
        if _is_camera(value):  # flat {camera_id: CAM}
            name = str(key) if subject is None else f"{subject}/{key}"
            out[name] = _h36m_camera(value, name, unit, f"{str(path)!r} camera {name!r}")
            continue
        if isinstance(value, Mapping):
            entries = [(str(cid), cam) for cid, cam in value.items()]
        elif isinstance(value, list):
            entries = [(str(cam.get("id", i + 1)) if isinstance(cam, Mapping) else str(i + 1), cam)
                       for i, cam in enumerate(value)]
        else:
            raise ValueError(f"{str(path)!r}: {key!r} must be a camera or a {{camera_id: camera}} / list of cameras, "
                             f"got {type(value).__name__}")
        for cid, cam in entries:
            if cam is None:
                continue
            name = f"{key}/{cid}"
            out[name] = _h36m_camera(cam, name, unit, f"{str(path)!r} camera {name!r}")
    if not out:
        raise ValueError(f"{str(path)!r} holds no camera: expected posekit's {{\"cameras\": [...]}} or a Human3.6M-"
                         "style {subject: {camera_id: {R, T, f, c, k, p}}} layout")
    return out


def _load_h5(path: Path) -> dict[str, Camera]:
    import h5py  # a posekit dependency; imported here so that JSON users never pay for it

    out: dict[str, Camera] = {}
    try:
        hf = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{str(path)!r} is not an HDF5 file: {exc}") from exc
    with hf:
        subjects = sorted((k for k in hf if k.startswith("subject") and k[7:].isdigit()), key=lambda k: int(k[7:]))
        if not subjects:
            raise ValueError(f"{str(path)!r}: no 'subject<N>' groups (Martinez' cameras.h5 layout "
                             f"subject1/camera1/{{R,T,f,c,k,p,Name}}); it has {sorted(hf)[:10]}")
        for sk in subjects:
            cams = sorted((k for k in hf[sk] if k.startswith("camera") and k[6:].isdigit()), key=lambda k: int(k[6:]))
            for ck in cams:
                g = hf[sk][ck]
                where = f"{str(path)!r} {sk}/{ck}"
                missing = [k for k in ("R", "T", "f", "c", "k", "p") if k not in g]
                if missing:
                    raise ValueError(f"{where}: missing dataset(s) {missing}")
                idx = int(ck[6:])
                cam_id = (H36M_CAMERA_IDS[idx - 1] if 1 <= idx <= 4 else str(idx))
                if "Name" in g:
                    cam_id = "".join(chr(int(v)) for v in np.ravel(g["Name"][()])).strip("\x00 ")
                try:
                    R = _array(g["R"][()], 9, "R").reshape(3, 3).T  # stored camera -> world (Martinez: R = R.T)
                    size = H36M_IMAGE_SIZES.get(cam_id)
                    if size is None:
                        raise ValueError(f"unknown camera {cam_id!r}: cameras.h5 stores no image size, known only "
                                         f"for {', '.join(H36M_CAMERA_IDS)}")
                    name = f"S{int(sk[7:])}/{cam_id}"
                    out[name] = camera_from_h36m(R=R, T=_array(g["T"][()], 3, "T"), f=_array(g["f"][()], 2, "f"),
                                                 c=_array(g["c"][()], 2, "c"), k=_array(g["k"][()], 3, "k"),
                                                 p=_array(g["p"][()], 2, "p"), image_size=size)
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from exc
    return out

