# cgroup_skb on egress may return 0-3: bit 1 asks TCP to back off as on congestion
        r0 = 3
        exit
