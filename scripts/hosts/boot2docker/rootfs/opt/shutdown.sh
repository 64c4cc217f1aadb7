#!/bin/sh
# Tiny Core's user shutdown script, as boot2docker ships it: Docker stops cleanly. What the cluster must do before
# Docker stops (the hand-over of the API's virtual IP) goes before that line.
/etc/init.d/docker stop
