"""Evaluation metrics; import the submodule you need (nothing is imported here, so pycocotools loads only on use).

- :mod:`posekit.metrics.coco`: COCO keypoint AP/AR through pycocotools, and MMPose's CocoMetric pipeline.
- :mod:`posekit.metrics.wholebody`: COCO-WholeBody AP/AR per part (body, foot, face, hands, whole body) through
  pycocotools, and MMPose's CocoWholeBodyMetric pipeline.
- :mod:`posekit.metrics.pck`: PCK, PCKh (MPII), AUC and EPE with MMPose's semantics.
- :mod:`posekit.metrics.nme`: normalised mean error for faces (inter-ocular, box-size normalisers).
- :mod:`posekit.metrics.mpjpe`: MPJPE, P-MPJPE and N-MPJPE for 3D poses, in millimetres.
- :mod:`posekit.metrics.recall`: person recall (GT people found at an OKS threshold, unmatched predictions).
"""
