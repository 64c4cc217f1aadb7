// The etcd server command: etcd's own main is this one call, in its repository's root module, which the
// module proxy does not serve at 3.6.x; the server/v3 module that holds all of etcd is served.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
