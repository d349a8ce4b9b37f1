*** Settings ***
Documentation       Three NUCLEO-H743ZI boards (boards/renode/vehicle_h743zi_fd.resc)
...                 on a Renode CAN hub with CAN FD frames (500 kbit/s nominal,
...                 2 Mbit/s data): the boards boot the frozen key agent, the
...                 master rekeys both slaves, and SecOC-protected FD frames
...                 verify. Run with `make renode-test` after
...                 `make firmware BOARD=NUCLEO_H743ZI MICROPY_DIR=...`.
Resource            common.resource
Test Teardown       Stop Module Server And Reset Renode

*** Variables ***
${BOARD}            NUCLEO_H743ZI
${CONSOLE}          sysbus.usart3
${MODULE_PORT}      4322

*** Test Cases ***
Boards Boot, Rekey And Verify Protected FD Traffic
    Firmware Should Exist    ${BOARD}
    ${master}    ${slave1}    ${slave2}=    Start Vehicle    vehicle_h743zi_fd.resc    ${BOARD}    ${MODULE_PORT}
    Agent Should Boot    ${master}    ${BOARD}    master
    Agent Should Boot    ${slave1}    ${BOARD}    slave
    Agent Should Boot    ${slave2}    ${BOARD}    slave
    ${epoch}=    Rekey Should Complete    ${master}
    Rekey Should Complete    ${slave1}
    Rekey Should Complete    ${slave2}
    Protected Traffic Should Verify    ${slave1}    ${epoch}
    Protected Traffic Should Verify    ${slave2}    ${epoch}
