"""Events published: telematics.batch.ingested per stored batch, telematics.alert per new DTC."""

from testsupport.apps import wait_until


async def test_batch_ingested_carries_count_max_odometer_and_end(api, recorder):
    _, token, vehicle = await api.new_owner()
    sample_list = [{"t": api.T0, "odometer": 100.5}, {"t": api.T0 + 1, "odometer": 101.25},
                   {"t": api.T0 + 2, "speed": 3.0}]
    response = await api.upload(token, vehicle, sample_list, end=api.T0 + 10)
    await wait_until(lambda: recorder.of("telematics.batch.ingested"))
    [event] = recorder.of("telematics.batch.ingested")
    assert event.producer == "telematics"
    assert event.data == {"vehicleId": vehicle, "batchId": response.json()["batchId"],
                          "samples": 3, "maxOdometer": 101.25, "endTimestamp": api.T0 + 10}
    # A re-sent batch publishes nothing more; a batch without odometer says null.
    await api.upload(token, vehicle, sample_list, end=api.T0 + 10)
    await api.upload(token, vehicle, api.samples(api.T0 + 100, 2))
    await wait_until(lambda: len(recorder.of("telematics.batch.ingested")) == 2)
    assert recorder.of("telematics.batch.ingested")[1].data["maxOdometer"] is None


async def test_new_dtc_raises_one_alert_and_the_same_dtc_again_none(api, recorder):
    user_id, token, vehicle = await api.new_owner()

    async def upload(offset, codes):
        response = await api.upload(token, vehicle, api.samples(api.T0 + offset, 2),
                                    dtcList=codes)
        assert response.status_code == 202

    await upload(0, ["P0300", "p0420"])
    await wait_until(lambda: len(recorder.of("telematics.batch.ingested")) == 1)
    await wait_until(lambda: recorder.of("telematics.alert"))
    await upload(10_000, ["P0300", "P0420"])  # still active: no alert
    await upload(20_000, None)  # no dtcList: the active set stays
    await wait_until(lambda: len(recorder.of("telematics.batch.ingested")) == 3)
    alerts = recorder.of("telematics.alert")
    assert [a.data for a in alerts] == [
        {"vehicleId": vehicle, "userId": user_id, "dtcs": ["P0300", "P0420"]}]
    summary = (await api.client.get(f"/api/telematics/{vehicle}/summary/",
                                    headers=api.bearer(token))).json()
    assert summary["activeDtcs"] == ["P0300", "P0420"]

    await upload(30_000, ["P0420", "P0171"])  # P0300 cleared, P0171 new
    await wait_until(lambda: len(recorder.of("telematics.alert")) == 2)
    assert recorder.of("telematics.alert")[1].data["dtcs"] == ["P0171"]
    await upload(40_000, [])  # all cleared
    await upload(50_000, ["P0300"])  # back again: new again
    await wait_until(lambda: len(recorder.of("telematics.alert")) == 3)
    assert recorder.of("telematics.alert")[2].data["dtcs"] == ["P0300"]


async def test_health_and_openapi(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    schema = (await client.get("/openapi.json")).json()
    upload = schema["paths"]["/api/telematics/{vehicle_id}/"]["post"]
    assert "422" not in upload["responses"] and "requestBody" in upload
