"""Rekisteri: a customer register that makes the GDPR rights of the people in it real."""
