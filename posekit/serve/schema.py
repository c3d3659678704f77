"""The JSON answers of the service as pydantic models: they document the OpenAPI schema (the endpoints build plain
dicts of this shape and return them directly, so the models cost nothing per request)."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = [
    "JOB_RESPONSES",
    "UPLOAD_BODY",
    "VIDEO_BODY",
    "ErrorBody",
    "ImageSize",
    "JobResponse",
    "ModelInfo",
    "ModelsResponse",
    "PoseInstance",
    "PosesResponse",
    "SkeletonInfo",
    "Timing",
]


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine code, e.g. payload_too_large, unsupported_media_type.")
    message: str = Field(description="What went wrong, for a person.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class ImageSize(BaseModel):
    width: int
    height: int


class PoseInstance(BaseModel):
    keypoints: list[list[float] | None] = Field(
        description="K [x, y] image pixels (origin at the top-left corner of the top-left pixel); null: missing.")
    scores: list[float] = Field(description="K keypoint scores in [0, 1].")
    box: list[float] = Field(description="x1, y1, x2, y2 pixels of the person box.")
    box_score: float
    score: float = Field(description="Instance score: box score x mean keypoint score above 0.2 (COCO 'score').")
    keypoints_3d: list[list[float] | None] | None = Field(
        None, description="K [x, y, z] in the model's 3D frame (BlazePose: metres, hip-centred), when it gives them.")


class SkeletonInfo(BaseModel):
    name: str
    keypoints: list[str]
    links: list[list[int]] = Field(description="Keypoint index pairs drawn as limbs.")
    link_colors: list[list[int]] = Field(description="RGB (0-255) per link: posekit's left/right/centre palette.")
    keypoint_colors: list[list[int]] = Field(description="RGB (0-255) per keypoint.")


class Timing(BaseModel):
    decode: float = Field(description="Milliseconds decoding the image.")
    inference: float = Field(description="Milliseconds in the model.")
    total: float = Field(description="Milliseconds from request to answer (upload read, queue, decode, model).")


class PosesResponse(BaseModel):
    model: str
    detector: str | None = Field(description="The person detector asked for (null: the model's own).")
    posekit_version: str
    image: ImageSize
    poses: list[PoseInstance]
    skeleton: SkeletonInfo
    coco: list[dict] = Field(description="COCO keypoint results (image_id 0), one per pose.")
    timing_ms: Timing


class ModelInfo(BaseModel):
    name: str
    skeleton: str | None
    num_keypoints: int | None
    outputs_3d: bool
    detector: bool = Field(description="The model runs on person boxes and takes detector=.")
    loaded: bool = Field(description="Built in this process (the first request of another model builds it).")
    weights: str = Field(description="offline (built in), downloads (official checkpoint on first use) or "
                                     "needs checkpoint.")
    description: str


class ModelsResponse(BaseModel):
    serving: str = Field(description="The model this server runs.")
    loaded: bool
    models: list[ModelInfo] = Field(description="The models a request may pick with model= (the served one first).")
    detectors: list[str] = Field(description="The person detectors a request may pick with detector=.")


class JobProgress(BaseModel):
    frames: int = Field(description="Frames processed so far.")
    total: int | None = Field(description="Frames the job will process (from the container; null: unknown).")
    fraction: float | None


class JobResponse(BaseModel):
    id: str
    status: str = Field(description="receiving, queued, running, done, failed or cancelled.")
    model: str | None
    progress: JobProgress
    error: ErrorDetail | None = Field(description="Why the job failed.")
    warning: str | None = Field(description="E.g. a truncated video: processed up to its last good frame.")
    created_s: float = Field(description="Unix seconds.")
    expires_s: float | None = Field(description="Unix seconds when a finished job's files are deleted.")
    files: dict[str, str] | None = Field(description="When done: jsonl, csv, video, summary -> URL.")
    summary: dict | None = Field(description="When done: the run (frames, persons, track ids, fps) and the "
                                             "analytics of the most-seen person (posekit analyze).")


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "The image: a multipart form with a file field 'image', or the raw bytes as the body. "
                       "JPEG, PNG or WebP, recognised by content (not by name or Content-Type).",
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["image"], "properties": {
                "image": {"type": "string", "format": "binary"}}}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/webp": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}

VIDEO_BODY = {
    "requestBody": {
        "required": True,
        "description": "The video: a multipart form with a file field 'video', or the raw bytes as the body. MP4/MOV, "
                       "AVI, WebM/MKV, recognised by content.",
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["video"], "properties": {
                "video": {"type": "string", "format": "binary"}}}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
JOB_RESPONSES: dict[int | str, dict] = {200: {"model": JobResponse}, 202: {"model": JobResponse},
                                        **{s: {"model": ErrorBody} for s in (400, 401, 404, 408, 413, 415, 503)}}
