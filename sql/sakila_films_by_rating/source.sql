-- dmsval: requires sakila.film
-- ENUM arrives in Redshift as VARCHAR: compare the text form
SELECT CAST(rating AS CHAR) AS rating, COUNT(*) AS films, SUM(length) AS minutes
FROM sakila.film
GROUP BY rating
