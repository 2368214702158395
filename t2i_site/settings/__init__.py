"""Settings: base (shared), local (the embedded default), test (PostgreSQL + Redis), production."""
