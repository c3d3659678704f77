"""Motion analytics on pose sequences.

- :mod:`posekit.analysis.angles`: joint angles (knee, hip, elbow, shoulder, trunk lean) in 2D and 3D, found by the
  skeleton's joint names.
- :mod:`posekit.analysis.repetitions`: repetition counting on an angle signal with hysteresis.
- :mod:`posekit.analysis.gait`: step events, cadence and stance/swing ratio from ankle trajectories.
"""
