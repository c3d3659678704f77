"""The JSON answers of the service as pydantic models: they document the OpenAPI schema (the endpoints build plain
dicts of this shape and return them directly, so the models cost nothing per request)."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = [
    "UPLOAD_BODY",
    "ErrorBody",
    "ImageSize",
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


class Timing(BaseModel):
    decode: float = Field(description="Milliseconds decoding the image.")
    inference: float = Field(description="Milliseconds in the model.")
    total: float = Field(description="Milliseconds from request to answer (upload read, queue, decode, model).")


class PosesResponse(BaseModel):
    model: str
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
    weights: str = Field(description="offline (built in), downloads (official checkpoint on first use) or "
                                     "needs checkpoint.")
    description: str


class ModelsResponse(BaseModel):
    serving: str = Field(description="The model this server runs.")
    loaded: bool
    models: list[ModelInfo] = Field(description="The registry's body models.")


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
