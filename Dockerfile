# One image for both services: `byok keyvault` or `byok generation`.
FROM python:3.11-slim

RUN useradd --system --uid 10001 --home-dir /srv byok
WORKDIR /srv/app
COPY pyproject.toml README.md ./
COPY protos ./protos
COPY shared ./shared
COPY keyvault_service ./keyvault_service
COPY generation_service ./generation_service
COPY provider_standin ./provider_standin
COPY bench ./bench
RUN pip install --no-cache-dir .

USER byok
ENV LOG_FORMAT=json
ENTRYPOINT ["byok"]
