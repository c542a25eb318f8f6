"""Login, logout and role checks for officials, modelers and admins.

Passwords are hashed (werkzeug scrypt). Failed logins are counted in the database by user
name and by address: more than ``LOGIN_MAX_FAILURES`` in ``LOGIN_WINDOW_MINUTES`` gives
429 for either, whatever the password (so it holds across gunicorn workers).
CSRF tokens come from Flask-WTF's ``CSRFProtect`` on every form and JSON write.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from webmap.db import ROLES, LoginAttempt, User, audit, find_user, get_session, utcnow
from webmap.errors import InvalidAPIUsage

bp = Blueprint("auth", __name__, url_prefix="/officials")

LOGIN_MAX_FAILURES = 5
LOGIN_WINDOW_MINUTES = 15
F = TypeVar("F", bound=Callable[..., Any])


def add_user(session: Session, name: str, password: str, role: str) -> User:
    """Create a user with a hashed password.

    Raises
    ------
    ValueError
        For an unknown role, a name in use, or a password shorter than 10 characters.
    """
    if role not in ROLES:
        raise ValueError(f"role is {role!r}; expected one of {list(ROLES)}")
    if not name or len(name) > 80 or not name.replace("_", "").replace(".", "").isalnum():
        raise ValueError(f"user name {name!r} is not allowed; use 1-80 letters, digits, '.' or '_'")
    if len(password) < 10:
        raise ValueError("the password is shorter than 10 characters; choose a longer one")
    if find_user(session, name) is not None:
        raise ValueError(f"user {name!r} exists already; pick another name")
    user = User(name=name, password_hash=generate_password_hash(password), role=role)
    session.add(user)
    audit(session, "cli", "add_user", "user", name, role=role)
    session.commit()
    return user


def current_user() -> User | None:
    """Return the logged-in user of this request, or None."""
    if "user" not in g:
        user_id = session.get("user_id")
        g.user = get_session().get(User, user_id) if user_id is not None else None
    user: User | None = g.user
    return user


def login_required(*roles: str) -> Callable[[F], F]:
    """Require a logged-in user (with one of ``roles`` when given).

    Pages redirect to the login form; API routes answer 401 (not logged in) or 403 (wrong
    role) as JSON.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            is_api = request.path.startswith("/api/")
            if user is None:
                if is_api:
                    raise InvalidAPIUsage("log in first (POST /officials/login)", 401)
                return redirect(url_for("auth.login", next=request.full_path))
            if roles and user.role not in roles and user.role != "admin":
                if is_api:
                    raise InvalidAPIUsage(
                        f"this needs the role {' or '.join(roles)}; you are {user.role}", 403
                    )
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def _too_many_failures(db: Session, name: str, address: str) -> bool:
    since = utcnow() - timedelta(minutes=LOGIN_WINDOW_MINUTES)
    count = db.scalar(
        select(func.count(LoginAttempt.id)).where(
            LoginAttempt.at >= since,
            or_(LoginAttempt.user_name == name, LoginAttempt.address == address),
        )
    )
    return (count or 0) >= LOGIN_MAX_FAILURES


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Show the login form; check the password; start the session."""
    error = None
    status = 200
    if request.method == "POST":
        db = get_session()
        name = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        address = request.remote_addr or "unknown"
        if _too_many_failures(db, name, address):
            error = f"Quá nhiều lần đăng nhập sai. Thử lại sau {LOGIN_WINDOW_MINUTES} phút."
            status = 429
        else:
            user = find_user(db, name)
            if user is not None and check_password_hash(user.password_hash, password):
                session.clear()
                session["user_id"] = user.id
                session.permanent = True
                audit(db, user.name, "login", "user", user.name)
                db.commit()
                target = request.args.get("next", "")
                if not target.startswith("/") or target.startswith("//"):
                    target = url_for("officials.overview")
                return redirect(target)
            db.add(LoginAttempt(user_name=name, address=address))
            db.commit()
            error = "Sai tên đăng nhập hoặc mật khẩu."
            status = 401
    return render_template("login.html", error=error), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the session."""
    user = current_user()
    if user is not None:
        db = get_session()
        audit(db, user.name, "logout", "user", user.name)
        db.commit()
    session.clear()
    return redirect(url_for("public.index"))


def session_lifetime() -> timedelta:
    """Lifetime of a login session (``PERMANENT_SESSION_LIFETIME``)."""
    lifetime: timedelta = current_app.permanent_session_lifetime
    return lifetime
