-- dmsval: requires sakila.film
SELECT rating, COUNT(*) AS films, SUM(length) AS minutes
FROM sakila.film
GROUP BY rating
