# a kfunc call: bpf_cast_to_kern_ctx turns the __sk_buff context into the kernel's struct sk_buff
        call kfunc(bpf_cast_to_kern_ctx)   # r1 = the context, as at the entry
        if r0 == 0 goto out                # never NULL, but the check is harmless
        r0 = 1
out:
        exit
