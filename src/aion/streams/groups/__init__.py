"""Consumer groups over any StreamLog: ``assignment`` (pure fair-share decisions),
``membership`` (one heartbeat round with compare-and-set leases) and ``consumer``
(in-process workers that read, hand records to a handler and checkpoint).
"""
