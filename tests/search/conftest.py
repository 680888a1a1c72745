from tests.api.conftest import module_db_url, module_live  # noqa: F401  (one vault per module)
