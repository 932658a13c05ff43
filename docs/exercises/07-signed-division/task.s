# Goal: return the average of -9, -3 and -6
        r0 = -9
        r0 += -3
        r0 += -6                 # -18
        r0 /= 3
        exit
