FROM python:3.11-slim
RUN useradd --system --home /srv/civiccert civiccert
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir '.[server]'
USER civiccert
EXPOSE 8080
ENTRYPOINT ["civiccert"]
CMD ["--home", "/srv/civiccert/home", "serve", "--host", "0.0.0.0", "--port", "8080", "--clients", "/run/secrets/clients.json"]
