"""OutSource API: a small FastAPI + MySQL backend.

Configuration comes from the environment only:

- DATABASE_URL: ``mysql+pymysql://user:password@host:port/db``; the password
  is URL-encoded (SQLAlchemy decodes it).
- JWT_SECRET_KEY, GEMINI_API_KEY: secrets for auth and the AI features. They
  are read once and never logged; only whether they are set is.

Run: ``uvicorn app.main:app --host 0.0.0.0 --port 8000``
"""

import logging
import os
import threading
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

log = logging.getLogger("uvicorn.error")

DATABASE_URL = os.environ.get("DATABASE_URL", "")
JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY", "")
GEMINI_API_KEY = os.environ.get("GEMINI_API_KEY", "")

DB_CONNECT_TIMEOUT = 5
# Shown by GET /api/version: change it to see a redeploy serve the new code.
APP_VERSION = "1.0.0"

app = FastAPI(
    title="OutSource API",
    description="Find and book outsourced services from verified providers.",
    version=APP_VERSION,
)


class DatabaseUnavailableError(Exception):
    """The database cannot be used; the message never contains the password."""


class _Database:
    """Create the SQLAlchemy engine on first use, so the app starts without a DB."""

    def __init__(self, url: str) -> None:
        self._raw_url = url
        self._secrets: list[str] = []
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def _scrub(self, message: str) -> str:
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return message

    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = self._create_engine()
            return self._engine

    def _create_engine(self) -> Engine:
        if not self._raw_url:
            raise DatabaseUnavailableError("DATABASE_URL is not set")
        try:
            url = make_url(self._raw_url)
        except ArgumentError:
            # The parser's message repeats the whole URL, password included.
            raise DatabaseUnavailableError(
                "DATABASE_URL is not a valid URL; expected mysql+pymysql://user:password@host:port/db"
            ) from None
        if url.password:
            password = str(url.password)
            self._secrets = [password]
            raw_password = self._raw_url.split("://", 1)[-1].rsplit("@", 1)[0]
            raw_password = raw_password.split(":", 1)[-1]
            if raw_password and raw_password != password:
                self._secrets.append(raw_password)
        if url.drivername == "mysql":
            url = url.set(drivername="mysql+pymysql")
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_recycle=3600,
            connect_args={"connect_timeout": DB_CONNECT_TIMEOUT},
        )

    def fetch_all(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        try:
            with self.engine().connect() as conn:
                result = conn.execute(text(sql), params)
                return [dict(row) for row in result.mappings()]
        except SQLAlchemyError as exc:
            orig = getattr(exc, "orig", None) or exc
            detail = self._scrub(f"{type(orig).__name__}: {orig}")
            log.warning("Database error: %s", detail)
            raise DatabaseUnavailableError(detail) from None


db = _Database(DATABASE_URL)

log.info(
    "OutSource API configured: DATABASE_URL set=%s, JWT_SECRET_KEY set=%s, GEMINI_API_KEY set=%s",
    bool(DATABASE_URL),
    bool(JWT_SECRET_KEY),
    bool(GEMINI_API_KEY),
)


def query(sql: str, **params: Any) -> list[dict[str, Any]]:
    """Run a read query for an API endpoint; 503 when the database is down."""
    try:
        return db.fetch_all(sql, **params)
    except DatabaseUnavailableError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from None


class Category(BaseModel):
    id: int
    name: str
    slug: str
    service_count: int


class Provider(BaseModel):
    id: int
    company_name: str
    headline: str | None = None
    country: str | None = None
    verified: bool
    owner_name: str
    service_count: int


class Service(BaseModel):
    id: int
    title: str
    description: str | None = None
    price_usd: float
    delivery_days: int
    category: str
    provider_id: int
    provider_name: str
    provider_country: str | None = None
    provider_verified: bool
    average_rating: float | None = None
    review_count: int


class Review(BaseModel):
    id: int
    rating: int
    comment: str | None = None
    reviewer_name: str


SERVICES_SQL = """
SELECT s.id, s.title, s.description, s.price_usd, s.delivery_days,
       c.slug AS category,
       p.id AS provider_id, p.company_name AS provider_name,
       p.country AS provider_country, p.verified AS provider_verified,
       rs.average_rating, COALESCE(rs.review_count, 0) AS review_count
FROM services s
JOIN providers p ON p.id = s.provider_id
JOIN categories c ON c.id = s.category_id
LEFT JOIN (
    SELECT b.service_id, AVG(r.rating) AS average_rating, COUNT(*) AS review_count
    FROM reviews r
    JOIN bookings b ON b.id = r.booking_id
    GROUP BY b.service_id
) rs ON rs.service_id = s.id
WHERE s.active = TRUE
"""


@app.get("/")
def root() -> dict[str, str]:
    return {"message": "Welcome to OutSource API"}


@app.get("/api/version")
def version() -> dict[str, str]:
    return {"name": "OutSource API", "version": APP_VERSION}


@app.get("/health")
def health() -> Any:
    try:
        db.fetch_all("SELECT 1")
    except DatabaseUnavailableError as exc:
        return JSONResponse(status_code=503, content={"status": "unhealthy", "detail": str(exc)})
    return {"status": "healthy"}


@app.get("/api/categories", response_model=list[Category])
def list_categories() -> Any:
    return query(
        """
        SELECT c.id, c.name, c.slug, COUNT(s.id) AS service_count
        FROM categories c
        LEFT JOIN services s ON s.category_id = c.id AND s.active = TRUE
        GROUP BY c.id, c.name, c.slug
        ORDER BY c.name
        """
    )


@app.get("/api/providers", response_model=list[Provider])
def list_providers() -> Any:
    return query(
        """
        SELECT p.id, p.company_name, p.headline, p.country, p.verified,
               u.full_name AS owner_name,
               (SELECT COUNT(*) FROM services s
                WHERE s.provider_id = p.id AND s.active = TRUE) AS service_count
        FROM providers p
        JOIN users u ON u.id = p.owner_user_id
        ORDER BY p.company_name
        """
    )


@app.get("/api/services", response_model=list[Service])
def list_services(category: str | None = None) -> Any:
    if category:
        return query(SERVICES_SQL + " AND c.slug = :category ORDER BY s.id", category=category)
    return query(SERVICES_SQL + " ORDER BY s.id")


@app.get("/api/services/{service_id}", response_model=Service)
def get_service(service_id: int) -> Any:
    rows = query(SERVICES_SQL + " AND s.id = :service_id", service_id=service_id)
    if not rows:
        raise HTTPException(status_code=404, detail="Service not found")
    return rows[0]


@app.get("/api/services/{service_id}/reviews", response_model=list[Review])
def list_service_reviews(service_id: int) -> Any:
    if not query("SELECT id FROM services WHERE id = :service_id", service_id=service_id):
        raise HTTPException(status_code=404, detail="Service not found")
    return query(
        """
        SELECT r.id, r.rating, r.comment, u.full_name AS reviewer_name
        FROM reviews r
        JOIN bookings b ON b.id = r.booking_id
        JOIN users u ON u.id = b.client_user_id
        WHERE b.service_id = :service_id
        ORDER BY r.id
        """,
        service_id=service_id,
    )
