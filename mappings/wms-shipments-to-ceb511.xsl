<?xml version="1.0" encoding="UTF-8"?>
<!--
  Bonded-warehouse WMS shipment confirmation (WMS_SHIPMENTS, xsd/partners/wms-shipments.xsd) → CBEC
  waybill CEB511 (物流运单): one CEB511Message per shipment (parcel), in confirmation order, so that each
  parcel's waybill lives and is answered on its own. Element order: ../../shared/formats/ceb-import-fields.md
  (LogisticsHead, BaseTransfer); customs sample samples/ceb/ceb511-waybill-signed.xml. Field by field:
  docs/partners/wms-shipments.md.
  The WMS works in kilograms and CNY (its format says so), hence weight as given and currency CNY → 142.
  Route parameters: copCode, copName, dxpId (the warehouse transmits on behalf of the logistics firm).
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:ceb="http://www.chinaport.gov.cn/ceb"
                xmlns:ws="urn:portgate:partner:wms-shipments:1"
                xmlns:pg="urn:portgate:xpath"
                xmlns:pgm="urn:portgate:mapping"
                extension-element-prefixes="pg"
                exclude-result-prefixes="ws pg pgm">

  <xsl:output method="xml" encoding="UTF-8" indent="yes"/>

  <xsl:template match="/">
    <xsl:if test="not(ws:ShipmentConfirmation)">
      <xsl:message terminate="yes">wms-shipments-to-ceb511: the input is not a wms-shipments ShipmentConfirmation</xsl:message>
    </xsl:if>
    <pgm:outputs>
      <xsl:for-each select="ws:ShipmentConfirmation/ws:shipment">
        <pgm:output>
          <xsl:apply-templates select="."/>
        </pgm:output>
      </xsl:for-each>
    </pgm:outputs>
  </xsl:template>

  <xsl:template match="ws:shipment">
    <!-- A parcel whose goods weigh more than the parcel was weighed wrong: the inventory list would be
         refused (IMP_INVT_WEIGHT) after the waybill was accepted, so refuse it here, first. -->
    <xsl:if test="number(ws:netWeight) &gt; number(ws:grossWeight)">
      <xsl:message terminate="yes">
        <xsl:value-of select="concat('wms-shipments-to-ceb511: shipment ', ws:outboundNo, ' (order ', ws:orderNo,
          '): netWeight ', ws:netWeight, ' kg is more than grossWeight ', ws:grossWeight, ' kg')"/>
      </xsl:message>
    </xsl:if>
    <!-- goodsInfo (配送的商品信息, C..200): "name*qty;name*qty", cut at 200 characters. -->
    <xsl:variable name="goods">
      <xsl:for-each select="ws:items/ws:item">
        <xsl:if test="position() &gt; 1">;</xsl:if>
        <xsl:value-of select="concat(ws:declaredName, '*', pg:round(ws:quantity, 5))"/>
      </xsl:for-each>
    </xsl:variable>
    <ceb:CEB511Message guid="{pg:guid()}" version="1.0">
      <ceb:Logistics>
        <ceb:LogisticsHead>
          <ceb:guid><xsl:value-of select="pg:guid()"/></ceb:guid>
          <ceb:appType>1</ceb:appType>
          <ceb:appTime><xsl:value-of select="pg:now('yyyyMMddHHmmss')"/></ceb:appTime>
          <ceb:appStatus>2</ceb:appStatus>
          <ceb:logisticsCode><xsl:value-of select="ws:carrier/ws:customsCode"/></ceb:logisticsCode>
          <ceb:logisticsName><xsl:value-of select="ws:carrier/ws:name"/></ceb:logisticsName>
          <ceb:logisticsNo><xsl:value-of select="ws:waybillNo"/></ceb:logisticsNo>
          <ceb:orderNo><xsl:value-of select="ws:orderNo"/></ceb:orderNo>
          <xsl:if test="ws:freight">
            <ceb:freight><xsl:value-of select="pg:amount(ws:freight, 2)"/></ceb:freight>
          </xsl:if>
          <xsl:if test="ws:insuredFee">
            <ceb:insuredFee><xsl:value-of select="pg:amount(ws:insuredFee, 2)"/></ceb:insuredFee>
          </xsl:if>
          <ceb:currency><xsl:value-of select="pg:code('currency', 'CNY')"/></ceb:currency>
          <ceb:weight><xsl:value-of select="pg:round(ws:grossWeight, 5)"/></ceb:weight>
          <ceb:packNo><xsl:value-of select="number(ws:packageCount)"/></ceb:packNo>
          <ceb:goodsInfo><xsl:value-of select="substring($goods, 1, 200)"/></ceb:goodsInfo>
          <ceb:consignee><xsl:value-of select="ws:recipient/ws:name"/></ceb:consignee>
          <ceb:consigneeAddress><xsl:value-of select="ws:recipient/ws:address"/></ceb:consigneeAddress>
          <ceb:consigneeTelephone><xsl:value-of select="ws:recipient/ws:phone"/></ceb:consigneeTelephone>
          <xsl:if test="ws:remark">
            <ceb:note><xsl:value-of select="ws:remark"/></ceb:note>
          </xsl:if>
        </ceb:LogisticsHead>
      </ceb:Logistics>
      <ceb:BaseTransfer>
        <ceb:copCode><xsl:value-of select="pg:param('copCode')"/></ceb:copCode>
        <ceb:copName><xsl:value-of select="pg:param('copName')"/></ceb:copName>
        <ceb:dxpMode>DXP</ceb:dxpMode>
        <ceb:dxpId><xsl:value-of select="pg:param('dxpId')"/></ceb:dxpId>
      </ceb:BaseTransfer>
    </ceb:CEB511Message>
  </xsl:template>

</xsl:stylesheet>
