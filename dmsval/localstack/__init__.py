"""Local stack: the services, data and AWS resources the demo and the tests run against."""
