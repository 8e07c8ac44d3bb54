"""HTTP handlers: parse the request, call a service, build the response.

Each handler takes the request and the route's path variables; errors are
raised as :class:`~notary_server.errors.ApiError` or domain errors and written
by the error middleware.
"""
