-- Customers known to billing, with the id their billing system knows them by.
SELECT customer_id, name, stripe_customer_id FROM customers FINAL ORDER BY customer_id
