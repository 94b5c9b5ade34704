"""Realistic configuration files for ConfigMap tasks, drawn with varied values."""

from __future__ import annotations

from collections.abc import Callable

from kubebench.tasks.authoring.drafting import Draw


def nginx_conf(draw: Draw, app: str) -> str:
    port = draw.pick((8080, 8000, 80, 9090))
    upstream_port = draw.pick((3000, 5000, 8081, 9000))
    workers = draw.pick(("auto", "2", "4"))
    body = draw.pick(("1m", "10m", "25m"))
    return f"""worker_processes {workers};
events {{
    worker_connections {draw.pick((512, 1024, 2048))};
}}
http {{
    client_max_body_size {body};
    upstream {app} {{
        server 127.0.0.1:{upstream_port};
    }}
    server {{
        listen {port};
        location / {{
            proxy_pass http://{app};
        }}
        location /healthz {{
            return 200 'ok';
        }}
    }}
}}
"""


def application_properties(draw: Draw, app: str) -> str:
    db = app.replace("-", "_")
    return f"""server.port={draw.pick((8080, 8081, 9000))}
spring.application.name={app}
spring.datasource.url=jdbc:postgresql://{draw.pick(("db", "postgres", "pg-primary"))}:5432/{db}
spring.datasource.hikari.maximum-pool-size={draw.pick((5, 10, 20))}
management.endpoints.web.exposure.include=health,info,prometheus
logging.level.root={draw.pick(("INFO", "WARN"))}
"""


def logback_xml(draw: Draw, app: str) -> str:
    level = draw.pick(("INFO", "DEBUG", "WARN"))
    pattern = draw.pick(
        (
            "%d{ISO8601} %-5level [%thread] %logger{36} - %msg%n",
            "%d{HH:mm:ss.SSS} %-5level %logger - %msg%n",
        )
    )
    return f"""<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder>
      <pattern>{pattern}</pattern>
    </encoder>
  </appender>
  <logger name="com.{draw.pick(("acme", "example", "shop"))}.{app.split("-")[0]}" level="{level}"/>
  <root level="{draw.pick(("INFO", "WARN"))}">
    <appender-ref ref="STDOUT"/>
  </root>
</configuration>
"""


def redis_conf(draw: Draw, app: str) -> str:
    return f"""maxmemory {draw.pick(("256mb", "512mb", "1gb"))}
maxmemory-policy {draw.pick(("allkeys-lru", "volatile-lru", "allkeys-lfu"))}
appendonly {draw.pick(("yes", "no"))}
timeout {draw.pick((0, 300, 60))}
tcp-keepalive 300
"""


def prometheus_yml(draw: Draw, app: str) -> str:
    return f"""global:
  scrape_interval: {draw.pick(("15s", "30s", "60s"))}
scrape_configs:
  - job_name: {app}
    metrics_path: /metrics
    static_configs:
      - targets: ["{app}:{draw.pick((9100, 8080, 9090))}"]
"""


def settings_json(draw: Draw, app: str) -> str:
    return f"""{{
  "service": "{app}",
  "timeoutMs": {draw.pick((1500, 3000, 5000))},
  "retries": {draw.pick((2, 3, 5))},
  "featureFlags": {{"newCheckout": {draw.pick(("true", "false"))}}}
}}
"""


def fluent_bit_conf(draw: Draw, app: str) -> str:
    return f"""[SERVICE]
    Flush        {draw.pick((1, 5))}
    Log_Level    {draw.pick(("info", "warn"))}
[INPUT]
    Name         tail
    Path         /var/log/containers/{app}*.log
[OUTPUT]
    Name         {draw.pick(("stdout", "forward"))}
    Match        *
"""


CONFIG_FILES: dict[str, Callable[[Draw, str], str]] = {
    "nginx.conf": nginx_conf,
    "application.properties": application_properties,
    "logback.xml": logback_xml,
    "redis.conf": redis_conf,
    "prometheus.yml": prometheus_yml,
    "settings.json": settings_json,
    "fluent-bit.conf": fluent_bit_conf,
}

ENV_SETTINGS: dict[str, tuple[str, ...]] = {
    "LOG_LEVEL": ("debug", "info", "warn", "error"),
    "LOG_FORMAT": ("json", "text"),
    "CACHE_TTL_SECONDS": ("60", "300", "900"),
    "MAX_CONNECTIONS": ("50", "100", "250"),
    "REGION": ("eu-west-1", "us-east-2", "ap-southeast-1"),
    "TZ": ("UTC", "Europe/Berlin", "America/New_York"),
    "FEATURE_NEW_CHECKOUT": ("true", "false"),
    "HTTP_TIMEOUT": ("5s", "30s", "2m"),
    "WORKER_CONCURRENCY": ("2", "4", "8"),
    "UPSTREAM_URL": ("http://inventory:8080", "https://api.partner.example.com"),
    "DB_HOST": ("postgres.db.svc", "10.20.0.15", "pg-primary"),
    "RETRY_BACKOFF_MS": ("250", "500", "1000"),
}
