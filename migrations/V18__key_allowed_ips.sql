-- A key's IP allow-list: CIDR blocks (IPv4 or IPv6) its requests may come from; NULL: any.
ALTER TABLE api_keys
    ADD COLUMN allowed_ips text[] CHECK (cardinality(allowed_ips) BETWEEN 1 AND 100);
