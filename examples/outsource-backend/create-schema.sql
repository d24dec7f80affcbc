-- OutSource schema: an outsourcing marketplace where clients book services
-- ("gigs") offered by providers and review them afterwards.
--
-- MySQL 8.0 syntax that MariaDB 10.11 also accepts. Plain CREATE TABLE on
-- purpose: importing this file twice fails with error 1050 ("Table already
-- exists") instead of silently doing nothing.
--
-- Usage: mysql -h HOST -u USER -p'PASSWORD' outsource_db < create-schema.sql

CREATE TABLE users (
    id            INT UNSIGNED NOT NULL AUTO_INCREMENT,
    email         VARCHAR(255) NOT NULL,
    full_name     VARCHAR(120) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    role          ENUM('client', 'provider', 'admin') NOT NULL DEFAULT 'client',
    created_at    TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE KEY uq_users_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE providers (
    id            INT UNSIGNED NOT NULL AUTO_INCREMENT,
    owner_user_id INT UNSIGNED NOT NULL,
    company_name  VARCHAR(150) NOT NULL,
    headline      VARCHAR(255) NULL,
    country       VARCHAR(80) NULL,
    verified      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE KEY uq_providers_company_name (company_name),
    CONSTRAINT fk_providers_owner FOREIGN KEY (owner_user_id)
        REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE categories (
    id   INT UNSIGNED NOT NULL AUTO_INCREMENT,
    name VARCHAR(80) NOT NULL,
    slug VARCHAR(80) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_categories_slug (slug)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE services (
    id            INT UNSIGNED NOT NULL AUTO_INCREMENT,
    provider_id   INT UNSIGNED NOT NULL,
    category_id   INT UNSIGNED NOT NULL,
    title         VARCHAR(150) NOT NULL,
    description   TEXT NULL,
    price_usd     DECIMAL(10, 2) NOT NULL,
    delivery_days SMALLINT UNSIGNED NOT NULL DEFAULT 7,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    KEY ix_services_provider (provider_id),
    KEY ix_services_category (category_id),
    CONSTRAINT fk_services_provider FOREIGN KEY (provider_id)
        REFERENCES providers (id) ON DELETE CASCADE,
    CONSTRAINT fk_services_category FOREIGN KEY (category_id)
        REFERENCES categories (id),
    CONSTRAINT ck_services_price CHECK (price_usd >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE bookings (
    id             INT UNSIGNED NOT NULL AUTO_INCREMENT,
    service_id     INT UNSIGNED NOT NULL,
    client_user_id INT UNSIGNED NOT NULL,
    status         ENUM('requested', 'accepted', 'in_progress', 'completed', 'cancelled')
                   NOT NULL DEFAULT 'requested',
    notes          VARCHAR(500) NULL,
    booked_at      TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    KEY ix_bookings_service (service_id),
    KEY ix_bookings_client (client_user_id),
    CONSTRAINT fk_bookings_service FOREIGN KEY (service_id)
        REFERENCES services (id) ON DELETE CASCADE,
    CONSTRAINT fk_bookings_client FOREIGN KEY (client_user_id)
        REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE reviews (
    id         INT UNSIGNED NOT NULL AUTO_INCREMENT,
    booking_id INT UNSIGNED NOT NULL,
    rating     TINYINT UNSIGNED NOT NULL,
    comment    VARCHAR(1000) NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE KEY uq_reviews_booking (booking_id),
    CONSTRAINT fk_reviews_booking FOREIGN KEY (booking_id)
        REFERENCES bookings (id) ON DELETE CASCADE,
    CONSTRAINT ck_reviews_rating CHECK (rating BETWEEN 1 AND 5)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
