"""Community services (issue 13): service requests against the catalogue of the service areas."""
