"""Risk rules checked before every order, and the tenant-wide kill switch."""
