"""The local stack (test infrastructure, outside the product): the services, data and AWS resources the demo and the
tests run against. It imports dmsval; dmsval never imports it."""
