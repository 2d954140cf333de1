"""Activity spaces (活动空间), their bookings and course seats, and health-check appointments."""
