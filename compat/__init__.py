"""The APIs that clients people already have speak: OpenAI's Images API (/v1/) and AUTOMATIC1111's (/sdapi/v1/).

Both are adapters over the studio's own job path: a request becomes an ordinary job (the caller's gallery, quotas,
fair share, live progress on /ws/jobs/), the view waits for it to finish and answers in the client's shapes.
"""
