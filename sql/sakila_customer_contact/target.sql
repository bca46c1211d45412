-- dmsval: requires sakila.customer
SELECT customer_id, store_id, first_name, last_name, email, active
FROM sakila.customer
