-- dmsval: requires sakila.payment
SELECT staff_id, COUNT(*) AS payments, SUM(amount) AS total
FROM sakila.payment
GROUP BY staff_id
