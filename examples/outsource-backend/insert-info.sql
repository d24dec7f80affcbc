-- OutSource seed data: a handful of users, providers, categories, services,
-- bookings and reviews so the API has something to show right after deploy.
-- Run after create-schema.sql:
--   mysql -h HOST -u USER -p'PASSWORD' outsource_db < insert-info.sql
--
-- password_hash holds a placeholder, not a real hash: these demo accounts
-- cannot log in.

INSERT INTO users (id, email, full_name, password_hash, role) VALUES
    (1, 'amara.okafor@example.com', 'Amara Okafor', 'placeholder-not-a-hash', 'provider'),
    (2, 'diego.ramirez@example.com', 'Diego Ramirez', 'placeholder-not-a-hash', 'provider'),
    (3, 'mei.chen@example.com', 'Mei Chen', 'placeholder-not-a-hash', 'provider'),
    (4, 'lena.fischer@example.com', 'Lena Fischer', 'placeholder-not-a-hash', 'client'),
    (5, 'sam.patel@example.com', 'Sam Patel', 'placeholder-not-a-hash', 'client'),
    (6, 'admin@example.com', 'OutSource Admin', 'placeholder-not-a-hash', 'admin');

INSERT INTO providers (id, owner_user_id, company_name, headline, country, verified) VALUES
    (1, 1, 'Okafor Digital Studio', 'Brand identity and web design for small businesses', 'Nigeria', TRUE),
    (2, 2, 'Ramirez Data Works', 'Dashboards, ETL pipelines and data cleanup', 'Mexico', TRUE),
    (3, 3, 'Chen Mobile Labs', 'Flutter and native mobile apps, start to store', 'Singapore', FALSE);

INSERT INTO categories (id, name, slug) VALUES
    (1, 'Design', 'design'),
    (2, 'Data & Analytics', 'data-analytics'),
    (3, 'Mobile Development', 'mobile-development'),
    (4, 'Writing & Translation', 'writing-translation');

INSERT INTO services (id, provider_id, category_id, title, description, price_usd, delivery_days) VALUES
    (1, 1, 1, 'Logo and brand kit', 'Three logo concepts, colour palette and typography guide.', 250.00, 5),
    (2, 1, 1, 'Landing page design', 'A responsive landing page design in Figma, two revisions.', 400.00, 7),
    (3, 2, 2, 'Sales dashboard', 'An interactive dashboard built from your spreadsheets or database.', 600.00, 10),
    (4, 2, 2, 'Data cleanup', 'Deduplicate, normalise and validate up to 50,000 rows.', 150.00, 3),
    (5, 3, 3, 'Flutter MVP', 'A cross-platform MVP with up to five screens and a REST backend.', 1800.00, 21),
    (6, 3, 3, 'App store release', 'Store listings, signing and submission for iOS and Android.', 300.00, 4);

INSERT INTO bookings (id, service_id, client_user_id, status, notes) VALUES
    (1, 1, 4, 'completed', 'Bakery rebrand, warm colours please.'),
    (2, 3, 5, 'completed', 'Monthly sales from two CSV exports.'),
    (3, 5, 4, 'in_progress', 'Ordering app for the bakery.'),
    (4, 4, 5, 'requested', NULL);

INSERT INTO reviews (id, booking_id, rating, comment) VALUES
    (1, 1, 5, 'Great concepts, fast turnaround.'),
    (2, 2, 4, 'Clear dashboard; one revision needed for the filters.');
