"""3D human pose: cameras, multi-view triangulation, and motion-capture data turned into lifter training pairs.

Modules (import them directly; this package re-exports nothing):

- ``mocap_archive``: safe extraction of selected members of the read-only ``.tar.xz`` mocap archives.
- ``bvh``: BVH reader and forward kinematics (positions in the file's length unit).
- ``asf_amc``: Acclaim ASF skeleton + AMC motion reader and forward kinematics (millimetres).
- ``cmu_h36m``: placement of the 17 Human3.6M joints on the CMU skeletons (ASF/AMC and the BVH walk cycles), fitted
  to Human3.6M's bone-length ratios (``h36m_stats``: its published skeleton as data, with sources).
- ``cameras``: pinhole camera with OpenCV lens distortion, ``look_at`` and random virtual cameras.
- ``camera_io``: camera files (posekit JSON, Human3.6M camera JSON, Martinez' ``cameras.h5``).
- ``pairs``: (2D, 3D) training pairs through virtual cameras, a detector-like 2D noise model, clip splits.
- ``pose_augment``: bone-length-preserving hip/knee/torso-lean augmentation of 3D poses (squat-like poses CMU lacks).
- ``triangulate``: confidence-weighted DLT, RANSAC over views, reprojection error.

The lifting application (lifter training, checkpoints, ``posekit lift``, ``LiftingEstimator``) is
:mod:`posekit.lift`, above this package: nothing here imports it or :mod:`posekit.pipelines`.

Conventions: world points are ``(..., 3)`` float64 millimetres; the CMU data are Y-up, right-handed.
Camera frames follow OpenCV: x right, y down, z forward (optical axis); pixels have x right, y down and the origin
at the top-left pixel's corner.
"""
