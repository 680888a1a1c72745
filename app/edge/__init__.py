"""The HTTP edge: what a client may cost the server before it is authenticated or cut off.

- `routes`: installs the per-route guards below (and marks the routes that stream).
- `auth_first`: a request that sends a body is authenticated before the body is read.
- `body_cap`: a body that is parsed whole (JSON, forms) is capped before it is parsed.
- `protocol`: per connection, a header deadline and size cap, a minimum body rate, and
  a cap on connections per client address (uvicorn has none of these).
- `clients`: who the client is (a trusted proxy's X-Forwarded-For, or the peer).
- `server`: the uvicorn configuration `locard serve` and the tests run.
"""
