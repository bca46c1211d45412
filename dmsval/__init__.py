"""dmsval: prove that an AWS DMS migration (MySQL/MariaDB -> Amazon Redshift) copied the data right."""

__version__ = "0.1.0"
