"""Necks between a backbone and a head: import from the module files (``hybrid_encoder``: RTMO's
:class:`~posekit.models.necks.hybrid_encoder.HybridEncoder` and
:class:`~posekit.models.necks.hybrid_encoder.ChannelMapper`; ``cspnext_pafpn``: MMPose's CSPNeXtPAFPN of RTMW,
:class:`~posekit.models.necks.cspnext_pafpn.CSPNeXtPAFPN`)."""
