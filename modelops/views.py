"""modelops has no pages of its own yet: versions show on the image page and in the admin."""
