"""What the tests share: live servers, local services, the backends table, test doubles."""
