module github.com/acme/auth

go 1.21

require (
	github.com/coreos/go-oidc/v3 v3.6.0
	github.com/go-chi/chi/v5 v5.0.8
	github.com/go-jose/go-jose/v3 v3.0.0
	github.com/golang-jwt/jwt/v4 v4.5.0
	github.com/jackc/pgx/v5 v5.4.2
	github.com/redis/go-redis/v9 v9.0.5
	golang.org/x/crypto v0.14.0
	golang.org/x/oauth2 v0.10.0
)

require (
	github.com/cespare/xxhash/v2 v2.2.0 // indirect
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
	github.com/golang/protobuf v1.5.3 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20221227161230-091c0ba34f0a // indirect
	github.com/jackc/puddle/v2 v2.2.1 // indirect
	golang.org/x/net v0.15.0 // indirect
	golang.org/x/sync v0.3.0 // indirect
	golang.org/x/sys v0.13.0 // indirect
	golang.org/x/text v0.13.0 // indirect
	google.golang.org/appengine v1.6.7 // indirect
	google.golang.org/protobuf v1.31.0 // indirect
)
