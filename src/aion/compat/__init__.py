"""Drop-in replacements for the clients Aion replaces: change one import, keep the code.

Each module keeps its library's names, signatures and defaults and speaks to Aion underneath:

* ``pykronos``: ``KronosClient`` over :class:`aion.Client` (and the shipper when non-blocking);
* ``triton``: Triton's streams over :class:`aion.StreamsClient` and consumer groups;
* ``isstreamer``: ISStreamer's ``Streamer`` over the shipper, to the Initial State API;
* ``samsara``: ``samsara_sdk``'s ``SamsaraClient`` over the shipper;
* ``kairos``: Kairos's ``Timeseries`` over :mod:`aion.timeseries` (no HTTP).

The seam: this layer sits on ``aion.client`` (and ``aion.timeseries``) and never imports the
server. What each library got wrong is fixed and listed in its module's docstring; its errors
keep their names here and are defined in :mod:`aion.errors`. Every HTTP one takes an API key
(``api_key=``; Triton's config key ``api_key`` or ``$AION_API_KEY``; ISStreamer's access key).
"""
