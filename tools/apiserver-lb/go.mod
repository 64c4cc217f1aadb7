module kube-dumb-way/tools/apiserver-lb

go 1.24
